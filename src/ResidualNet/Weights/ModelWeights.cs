using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ResidualNet.Layers;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ResidualNet.Weights;

/// <summary>
/// Saves and loads the weights (state_dict: parameters and persistent buffers) of any TorchSharp module, in
/// TorchSharp's format, in Python's <c>torch.save(state_dict)</c> format and in safetensors.
/// </summary>
/// <remarks>
/// Loading is strict by default and checks before it copies: the file's keys and shapes are compared with the
/// module's state_dict first, and a file that does not fit throws a <see cref="WeightsMismatchException"/>
/// listing the missing keys, the unexpected keys and the shape mismatches, leaving the module untouched.
/// Tensors are copied in place into the module's existing parameters and buffers, so <c>requires_grad</c>,
/// devices and references held by optimizers are kept (unlike PyBridge's <c>load_py</c>, which leaves every
/// parameter with <c>requires_grad = false</c>).
/// </remarks>
public static class ModelWeights
{
    /// <summary>Saves a module's state_dict to a file.</summary>
    /// <param name="module">The module whose parameters and buffers are written.</param>
    /// <param name="path">The file to create or overwrite.</param>
    /// <param name="format">
    /// The format; <see cref="WeightsFormat.Auto"/> (the default) chooses from the extension: <c>.safetensors</c>
    /// is safetensors, <c>.pt</c> and <c>.pth</c> are PyTorch (loadable in Python with <c>torch.load</c>), anything
    /// else is TorchSharp's format.
    /// </param>
    /// <returns>The format that was written.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a directory, or <paramref name="format"/> is not defined.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="module"/> has been disposed.</exception>
    public static WeightsFormat Save(nn.Module module, string path, WeightsFormat format = WeightsFormat.Auto)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        CheckFormat(format);
        CheckNotDisposed(module);
        string fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException($"The weights path '{fullPath}' is a directory; give the path of a file to write.", nameof(path));
        }

        if (format == WeightsFormat.Auto)
        {
            format = FormatFromExtension(fullPath);
        }

        switch (format)
        {
            case WeightsFormat.TorchSharp:
                module.save(fullPath);
                break;
            case WeightsFormat.PyTorch:
                module.save_py(fullPath);
                break;
            default:
                module.save_safetensors(fullPath);
                break;
        }

        return format;
    }

    /// <summary>
    /// Loads weights from a file into a module, after checking that the file fits (see
    /// <see cref="WeightsLoadOptions"/>); the format is detected from the file unless the options name one.
    /// </summary>
    /// <param name="module">The module to load into; its tensors are overwritten in place.</param>
    /// <param name="path">The weights file.</param>
    /// <param name="options">Strictness, classifier skipping and format; null means <see cref="WeightsLoadOptions.Default"/>.</param>
    /// <returns>The comparison of the file with the module; its <see cref="WeightsComparison.MatchedKeys"/> were loaded.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names the full path).</exception>
    /// <exception cref="WeightsFileException">The file cannot be read as weights (corrupt, truncated, unsupported).</exception>
    /// <exception cref="WeightsMismatchException">
    /// The file does not fit: a shape differs, or (strict) a key is missing or unexpected. Nothing was loaded.
    /// </exception>
    /// <exception cref="ObjectDisposedException"><paramref name="module"/> has been disposed.</exception>
    /// <exception cref="InvalidOperationException">
    /// <paramref name="module"/> has its BatchNorms folded into its convolutions (<c>FoldBatchNorms</c>): the folded
    /// forward no longer reads the BatchNorm values a file holds. Load into an unfolded model, then fold.
    /// </exception>
    public static WeightsComparison Load(nn.Module module, string path, WeightsLoadOptions? options = null)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        options = CheckOptions(options);
        CheckNotDisposed(module);
        CheckNotFolded(module);
        string fullPath = CheckExistingFile(path, nameof(path));

        using var scope = torch.NewDisposeScope();
        var source = WeightsSource.Open(fullPath, options.Format);
        var state = module.state_dict();
        var comparison = CompareCore(source, state, options);
        if (comparison.ShapeMismatches.Count > 0
            || (options.Strict && (comparison.MissingKeys.Count > 0 || comparison.UnexpectedKeys.Count > 0)))
        {
            throw new WeightsMismatchException(comparison, Describe(module), nameof(path));
        }

        var targets = comparison.MatchedKeys.ToDictionary(key => key, key => state[key], StringComparer.Ordinal);
        using (torch.no_grad())
        {
            source.CopyInto(targets);
        }

        return comparison;
    }

    /// <summary>
    /// Compares a weights file with a module's state_dict without loading anything: the keys both hold, the keys
    /// skipped as classifier, the missing and unexpected keys and the shape mismatches.
    /// </summary>
    /// <param name="module">The module to compare with.</param>
    /// <param name="path">The weights file.</param>
    /// <param name="options">Classifier skipping and format (strictness does not matter here); null means the defaults.</param>
    /// <returns>The comparison.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WeightsFileException">The file cannot be read as weights.</exception>
    public static WeightsComparison Compare(nn.Module module, string path, WeightsLoadOptions? options = null)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        options = CheckOptions(options);
        CheckNotDisposed(module);
        string fullPath = CheckExistingFile(path, nameof(path));
        using var scope = torch.NewDisposeScope();
        var source = WeightsSource.Open(fullPath, options.Format);
        return CompareCore(source, module.state_dict(), options);
    }

    /// <summary>
    /// Lists the tensors stored in a weights file (key, shape, dtype) without a module. TorchSharp and
    /// safetensors files are listed in the file's order, PyTorch files in ordinal key order.
    /// </summary>
    /// <param name="path">The weights file.</param>
    /// <param name="format">The format; <see cref="WeightsFormat.Auto"/> (the default) detects it.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WeightsFileException">The file cannot be read as weights.</exception>
    public static IReadOnlyList<WeightsEntry> ReadEntries(string path, WeightsFormat format = WeightsFormat.Auto)
    {
        OneDnnGuard.EnsureApplied();
        CheckFormat(format);
        string fullPath = CheckExistingFile(path, nameof(path));
        using var scope = torch.NewDisposeScope();
        return WeightsSource.Open(fullPath, format).Entries;
    }

    /// <summary>Detects a weights file's format from its first bytes.</summary>
    /// <param name="path">The weights file.</param>
    /// <returns><see cref="WeightsFormat.PyTorch"/>, <see cref="WeightsFormat.Safetensors"/> or <see cref="WeightsFormat.TorchSharp"/>.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WeightsFileException">The file is empty or in PyTorch's unsupported legacy format.</exception>
    public static WeightsFormat DetectFormat(string path) =>
        WeightsSource.Detect(CheckExistingFile(path, nameof(path)));

    private static WeightsComparison CompareCore(WeightsSource source, Dictionary<string, Tensor> state, WeightsLoadOptions options)
    {
        bool Skipped(string key) => options.SkipClassifier && key.StartsWith(options.ClassifierPrefix, StringComparison.Ordinal);

        var entries = source.Entries;
        var fileShapes = new Dictionary<string, IReadOnlyList<long>>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            fileShapes[entry.Key] = entry.Shape;
        }

        var matched = new List<string>();
        var skipped = new List<string>();
        var missing = new List<string>();
        var mismatches = new List<ShapeMismatch>();
        foreach (var (key, tensor) in state)
        {
            if (Skipped(key))
            {
                skipped.Add(key);
            }
            else if (!fileShapes.TryGetValue(key, out var fileShape))
            {
                missing.Add(key);
            }
            else if (!fileShape.SequenceEqual(tensor.shape))
            {
                mismatches.Add(new ShapeMismatch(key, tensor.shape, fileShape));
            }
            else
            {
                matched.Add(key);
            }
        }

        var unexpected = new List<string>();
        foreach (var entry in entries.Where(e => !state.ContainsKey(e.Key)))
        {
            (Skipped(entry.Key) ? skipped : unexpected).Add(entry.Key);
        }

        return new WeightsComparison
        {
            FilePath = source.FullPath,
            Format = source.Format,
            MatchedKeys = matched,
            SkippedKeys = skipped,
            MissingKeys = missing,
            UnexpectedKeys = unexpected,
            ShapeMismatches = mismatches,
        };
    }

    private static void CheckNotDisposed(nn.Module module)
    {
        if (Models.DisposedModules.IsDisposed(module))
        {
            throw new ObjectDisposedException(Describe(module), $"The {Describe(module)} has been disposed; its weights can no longer be read or written.");
        }
    }

    private static void CheckNotFolded(nn.Module module)
    {
        var folded = module.modules().Prepend(module).OfType<IBatchNormFoldable>().FirstOrDefault(IsFolded);
        if (folded is not null)
        {
            throw new InvalidOperationException(
                $"Cannot load weights into this {Describe(module)}: its BatchNorms are folded into its convolutions ({folded.GetType().Name}.IsBatchNormFolded), " +
                "so the BatchNorm values of a file would be written where the folded forward no longer reads them. Load into an unfolded model, then fold it.");
        }

        static bool IsFolded(IBatchNormFoldable foldable) => foldable switch
        {
            Models.ResNet net => net.IsBatchNormFolded,
            Blocks.ResidualBlockBase block => block.IsBatchNormFolded,
            _ => false,
        };
    }

    private static WeightsLoadOptions CheckOptions(WeightsLoadOptions? options)
    {
        options ??= WeightsLoadOptions.Default;
        options.Validate();
        return options;
    }

    private static void CheckFormat(WeightsFormat format)
    {
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, $"Unknown weights format {(int)format}.");
        }
    }

    private static string CheckExistingFile(string path, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path, paramName);
        string fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new ArgumentException($"The weights path '{fullPath}' is a directory, not a file.", paramName);
        }

        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"The weights file '{fullPath}' does not exist.", fullPath);
        }

        return fullPath;
    }

    private static WeightsFormat FormatFromExtension(string fullPath) =>
        Path.GetExtension(fullPath).ToUpperInvariant() switch
        {
            ".SAFETENSORS" => WeightsFormat.Safetensors,
            ".PT" or ".PTH" => WeightsFormat.PyTorch,
            _ => WeightsFormat.TorchSharp,
        };

    private static string Describe(nn.Module module) => module.GetType().Name;
}
