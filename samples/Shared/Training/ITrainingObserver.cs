namespace ResidualNet.Samples.Training;

/// <summary>Receives progress from <see cref="ClassifierTrainer"/> (for progress bars and logs). Both methods default to nothing.</summary>
public interface ITrainingObserver
{
    /// <summary>Called after each training batch.</summary>
    /// <param name="epoch">0-based epoch.</param>
    /// <param name="batch">0-based batch within the epoch.</param>
    /// <param name="batchCount">Batches per epoch.</param>
    /// <param name="loss">The batch's loss.</param>
    void BatchCompleted(int epoch, int batch, int batchCount, double loss)
    {
    }

    /// <summary>Called after each epoch's evaluation (and checkpoint).</summary>
    /// <param name="result">The epoch's numbers.</param>
    void EpochCompleted(EpochResult result)
    {
    }
}
