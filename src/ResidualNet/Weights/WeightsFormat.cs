namespace ResidualNet.Weights;

/// <summary>The file formats that <see cref="ModelWeights"/> reads and writes.</summary>
public enum WeightsFormat
{
    /// <summary>
    /// Decide from the file: when loading, from its first bytes (a zip archive is a PyTorch file, an 8-byte
    /// length followed by a JSON header is safetensors, anything else is TorchSharp's format); when saving, from
    /// the extension (<c>.safetensors</c>, <c>.pt</c> or <c>.pth</c>; anything else is TorchSharp's format).
    /// </summary>
    Auto = 0,

    /// <summary>TorchSharp's own format, written by <c>module.save(path)</c> and read by <c>module.load(path)</c>.</summary>
    TorchSharp = 1,

    /// <summary>
    /// A Python <c>torch.save(model.state_dict(), path)</c> file (the zip-based format of PyTorch 1.6 and later),
    /// read and written through TorchSharp.PyBridge.
    /// </summary>
    PyTorch = 2,

    /// <summary>The safetensors format (an 8-byte header length, a JSON header, then the raw tensor bytes).</summary>
    Safetensors = 3,
}
