using System.Globalization;
using ResidualNet.Samples.Training;
using Spectre.Console;

namespace ResidualNet.Samples;

/// <summary>Feeds a Spectre.Console progress task from <see cref="ClassifierTrainer"/> and logs each epoch.</summary>
public sealed class SpectreProgressObserver : ITrainingObserver
{
    private readonly ProgressTask _task;
    private readonly IAnsiConsole _console;
    private readonly string _name;
    private readonly int _epochs;

    /// <summary>Creates the observer.</summary>
    /// <param name="task">The progress task (its maximum is set to epochs x batches).</param>
    /// <param name="console">Where epoch lines go.</param>
    /// <param name="name">Model name.</param>
    /// <param name="epochs">Planned epochs.</param>
    public SpectreProgressObserver(ProgressTask task, IAnsiConsole console, string name, int epochs)
    {
        _task = task;
        _console = console;
        _name = name;
        _epochs = epochs;
    }

    /// <inheritdoc/>
    public void BatchCompleted(int epoch, int batch, int batchCount, double loss)
    {
        _task.MaxValue = (double)_epochs * batchCount;
        _task.Value = ((double)epoch * batchCount) + batch + 1;
        _task.Description = string.Create(CultureInfo.InvariantCulture, $"{_name} epoch {epoch + 1}/{_epochs} loss {loss:F3}");
    }

    /// <inheritdoc/>
    public void EpochCompleted(EpochResult result)
    {
        _console.MarkupLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{Markup.Escape(_name)} epoch {result.Epoch}: train error {Formats.Percent(result.TrainError)}, test error {Formats.Percent(result.TestError)}, lr {result.LearningRate:G3}, {result.Seconds:F1} s"));
    }
}
