using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using ResidualNet.Samples.Training;

namespace ResidualNet.Samples;

/// <summary>Writes per-epoch results as CSV (invariant culture, one row per model and epoch).</summary>
public static class CsvResults
{
    /// <summary>The header row.</summary>
    public const string Header = "model,epoch,train_loss,train_error,test_loss,test_error,learning_rate,seconds";

    /// <summary>Writes (overwrites) the file with every model's history.</summary>
    /// <param name="path">Destination (its folder is created).</param>
    /// <param name="histories">Per model, its epochs in order.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, IReadOnlyList<EpochResult>>> histories)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(histories);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        var text = new StringBuilder(Header).Append('\n');
        foreach (var (model, history) in histories)
        {
            foreach (var r in history)
            {
                text.Append(CultureInfo.InvariantCulture, $"{Escape(model)},{r.Epoch},{r.TrainLoss:G6},{r.TrainError:G6},{r.TestLoss:G6},{r.TestError:G6},{r.LearningRate:G6},{r.Seconds:F2}\n");
            }
        }

        File.WriteAllText(path, text.ToString());
    }

    private static string Escape(string value) =>
        value.AsSpan().IndexOfAny(",\"\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
