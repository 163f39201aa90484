using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ResidualNet.Samples.Training;

namespace ResidualNet.Samples;

/// <summary>Per-epoch results as CSV (invariant culture, one row per model and epoch), written and read back.</summary>
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

    /// <summary>Reads a file in <see cref="Header"/>'s layout (empty loss columns allowed), grouped by model in file order.</summary>
    /// <param name="path">The CSV file, for example one that <see cref="Write"/> wrote.</param>
    /// <returns>Per model, its epochs in order.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header or a row is not what <see cref="Write"/> writes (the message quotes it).</exception>
    public static List<KeyValuePair<string, IReadOnlyList<EpochResult>>> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"results file '{path}' does not exist.", path);
        }

        string[] lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].Trim() != Header)
        {
            throw new InvalidDataException($"'{path}' does not start with the header '{Header}'.");
        }

        var byModel = new List<KeyValuePair<string, IReadOnlyList<EpochResult>>>();
        foreach (string row in lines.Skip(1).Where(l => l.Length > 0))
        {
            string[] f = row.Split(',');
            if (f.Length != 8 || !int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch) || !f.Skip(2).All(IsNumberOrEmpty))
            {
                throw new InvalidDataException($"'{path}': the row '{row}' is not a model name, an epoch and 6 numbers.");
            }

            int index = byModel.FindIndex(h => h.Key == f[0]);
            if (index < 0)
            {
                byModel.Add(new(f[0], new List<EpochResult>()));
                index = byModel.Count - 1;
            }

            ((List<EpochResult>)byModel[index].Value).Add(new EpochResult(epoch, Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5]), Number(f[6]), Number(f[7])));
        }

        return byModel;
    }

    private static double Number(string text) => text.Length == 0 ? double.NaN : double.Parse(text, CultureInfo.InvariantCulture);

    private static bool IsNumberOrEmpty(string text) => text.Length == 0 || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static string Escape(string value) =>
        value.AsSpan().IndexOfAny(",\"\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
