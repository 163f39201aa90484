using System;
using System.IO;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Weights;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Fuzzing;

/// <summary>Mutated weights files (TorchSharp, .pt, safetensors): loaded, or a typed exception with the model bitwise
/// unchanged.</summary>
internal static class WeightsFuzzer
{
    private static readonly string[] Extensions = [".bin", ".pt", ".safetensors"];
    private static readonly Lazy<(string Directory, byte[][] Files)> Base = new(CreateBase);

    private static ResNet TinyModel()
    {
        manual_seed(3);
        return new ResNet(new ResNetBuilder().WithStem(StemKind.Cifar, 4).AddStage(BlockKind.Basic, 1, 4).AddStage(BlockKind.Basic, 1, 8, stride: 2).WithClasses(3).Build());
    }

    private static (string, byte[][]) CreateBase()
    {
        string directory = Path.Combine(Path.GetTempPath(), "residualnet-fuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        using var model = TinyModel();
        return (directory, Extensions.Select(ext =>
        {
            string path = Path.Combine(directory, "base" + ext);
            ModelWeights.Save(model, path);
            return File.ReadAllBytes(path);
        }).ToArray());
    }

    /// <summary>Case <paramref name="index"/>: format <c>index % 3</c>.</summary>
    internal static string Case(int seed, int index)
    {
        var (directory, files) = Base.Value;
        int format = index % 3;
        var r = Mutations.For(seed, index);
        var original = files[format];
        var (bytes, kind) = Mutations.Mutate(r, original, format == 2 ? Math.Min(original.Length, 8 + BitConverter.ToInt32(original, 0)) : 64, format == 1 ? 256 : 0);
        string path = Path.Combine(directory, $"case{index}{Extensions[format]}");
        File.WriteAllBytes(path, bytes);
        using var scope = NewDisposeScope();
        using var model = TinyModel();
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        try
        {
            ModelWeights.Load(model, path);
            return $"{FuzzOutcome.Valid} {kind}";
        }
#pragma warning disable CA1031 // The fuzzer classifies every exception.
        catch (Exception e)
#pragma warning restore CA1031
        {
            bool unchanged = model.state_dict().All(kv => kv.Value.dtype == before[kv.Key].dtype && kv.Value.equal(before[kv.Key]).all().item<bool>());
            string outcome = FuzzHarness.Classify(e, x => x is CorruptFileException or WeightsMismatchException);
            if (!unchanged)
            {
                return $"{FuzzOutcome.Untyped} the model changed although loading failed ({e.GetType().Name}, {kind}, {Extensions[format]})";
            }

            return outcome.StartsWith(nameof(FuzzOutcome.Typed), StringComparison.Ordinal) ? outcome : $"{outcome} [{kind}, {Extensions[format]}]";
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>Mutated IDX files (images and labels, raw and gzip): read, or an IdxFormatException.</summary>
internal static class IdxFuzzer
{
    private static readonly Lazy<(string Directory, byte[][] Files)> Base = new(CreateBase);

    private static (string, byte[][]) CreateBase()
    {
        string directory = Path.Combine(Path.GetTempPath(), "residualnet-idxfuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        var pixels = Enumerable.Range(0, 5 * 4 * 4).Select(i => (byte)(i * 7)).ToArray();
        var labels = new byte[] { 1, 2, 3, 4, 5 };
        var files = new byte[4][];
        for (int k = 0; k < 4; k++)
        {
            string path = Path.Combine(directory, $"base{k}");
            if (k < 2)
            {
                IdxFile.WriteImages(path, new IdxImages(pixels, 5, 4, 4), gzip: k == 1);
            }
            else
            {
                IdxFile.WriteLabels(path, labels, gzip: k == 3);
            }

            files[k] = File.ReadAllBytes(path);
        }

        return (directory, files);
    }

    /// <summary>Case <paramref name="index"/>: images raw, images gzip, labels raw, labels gzip by <c>index % 4</c>.</summary>
    internal static string Case(int seed, int index)
    {
        var (directory, files) = Base.Value;
        int kind = index % 4;
        var r = Mutations.For(seed, index);
        var (bytes, mutation) = Mutations.Mutate(r, files[kind], 16, kind % 2 == 1 ? 8 : 0);
        string path = Path.Combine(directory, $"case{index}");
        File.WriteAllBytes(path, bytes);
        try
        {
            if (kind < 2)
            {
                IdxFile.ReadImages(path);
            }
            else
            {
                IdxFile.ReadLabels(path);
            }

            return $"{FuzzOutcome.Valid} {mutation}";
        }
#pragma warning disable CA1031 // The fuzzer classifies every exception.
        catch (Exception e)
#pragma warning restore CA1031
        {
            string outcome = FuzzHarness.Classify(e, x => x is IdxFormatException);
            return outcome.StartsWith(nameof(FuzzOutcome.Typed), StringComparison.Ordinal) ? outcome : $"{outcome} [{mutation}, kind {kind}]";
        }
        finally
        {
            File.Delete(path);
        }
    }
}
