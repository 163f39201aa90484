using System.Globalization;
using ResidualNet.Samples.Training;
using Spectre.Console;

namespace ResidualNet.Samples.Degradation;

/// <summary>Feeds a Spectre.Console progress bar from <see cref="ClassifierTrainer"/> and logs each epoch.</summary>
/// <param name="task">The bar (its maximum is epochs x batches).</param>
/// <param name="console">Where epoch lines go.</param>
/// <param name="name">Network name.</param>
/// <param name="epochs">Planned epochs.</param>
public sealed class SpectreProgressObserver(ProgressTask task, IAnsiConsole console, string name, int epochs) : ITrainingObserver
{
    /// <inheritdoc/>
    public void BatchCompleted(int epoch, int batch, int batchCount, double loss)
    {
        task.MaxValue = (double)epochs * batchCount;
        task.Value = ((double)epoch * batchCount) + batch + 1;
        task.Description = string.Create(CultureInfo.InvariantCulture, $"{name} epoch {epoch + 1}/{epochs} loss {loss:F3}");
    }

    /// <inheritdoc/>
    public void EpochCompleted(EpochResult result) => console.MarkupLine(string.Create(
        CultureInfo.InvariantCulture,
        $"{Markup.Escape(name)} epoch {result.Epoch}: train error {Formats.Percent(result.TrainError)}, test error {Formats.Percent(result.TestError)}, lr {result.LearningRate:G3}, {result.Seconds:F1} s"));
}
