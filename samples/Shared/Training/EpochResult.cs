using System.Collections.Generic;

namespace ResidualNet.Samples.Training;

/// <summary>Numbers for one finished epoch.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean cross-entropy over the epoch's training batches (in training mode, augmented).</param>
/// <param name="TrainError">Fraction of training samples misclassified during the epoch (running, as in He et al.'s curves).</param>
/// <param name="TestLoss">Mean cross-entropy on the test set after the epoch (evaluation mode).</param>
/// <param name="TestError">Fraction of test samples misclassified after the epoch.</param>
/// <param name="LearningRate">Learning rate of the epoch's last batch.</param>
/// <param name="Seconds">Wall time of the epoch, evaluation included (summed over interrupted parts).</param>
public sealed record EpochResult(int Epoch, double TrainLoss, double TrainError, double TestLoss, double TestError, double LearningRate, double Seconds);

/// <summary>Loss, error and predictions of a model on a data set.</summary>
/// <param name="Loss">Mean cross-entropy.</param>
/// <param name="Error">Fraction misclassified.</param>
/// <param name="Count">Number of samples.</param>
/// <param name="Predictions">The predicted class of every sample, in data order.</param>
public sealed record Evaluation(double Loss, double Error, int Count, IReadOnlyList<long> Predictions)
{
    /// <summary>1 - <see cref="Error"/>.</summary>
    public double Accuracy => 1 - Error;
}
