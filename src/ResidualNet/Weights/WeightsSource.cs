using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ResidualNet.Weights;

/// <summary>
/// An opened weights file: its entries (keys, shapes, dtypes) are known before anything is copied into a module,
/// so that a strict check can refuse a file without touching the module.
/// </summary>
internal abstract class WeightsSource
{
    protected WeightsSource(string fullPath, WeightsFormat format)
    {
        FullPath = fullPath;
        Format = format;
    }

    /// <summary>The full path of the file.</summary>
    public string FullPath { get; }

    /// <summary>The file's format.</summary>
    public WeightsFormat Format { get; }

    /// <summary>The file's tensors, in the file's order where the format keeps one.</summary>
    public abstract IReadOnlyList<WeightsEntry> Entries { get; }

    /// <summary>
    /// Copies the file's tensor of every key of <paramref name="targets"/> into the target tensor (in place,
    /// converting dtype and device where they differ). The caller runs this under <c>no_grad</c> and a dispose scope.
    /// </summary>
    public abstract void CopyInto(IReadOnlyDictionary<string, Tensor> targets);

    /// <summary>Opens a file in the given format (<see cref="WeightsFormat.Auto"/>: detected).</summary>
    public static WeightsSource Open(string fullPath, WeightsFormat format)
    {
        if (format == WeightsFormat.Auto)
        {
            format = Detect(fullPath);
        }

        return format switch
        {
            WeightsFormat.TorchSharp => new TorchSharpSource(fullPath),
            WeightsFormat.PyTorch => new PyTorchSource(fullPath),
            WeightsFormat.Safetensors => new SafetensorsSource(fullPath),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, $"Unknown weights format {format}."),
        };
    }

    /// <summary>Detects the format from the first bytes of the file.</summary>
    public static WeightsFormat Detect(string fullPath)
    {
        using var stream = File.OpenRead(fullPath);
        Span<byte> head = stackalloc byte[9];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read == 0)
        {
            throw new WeightsFileException(fullPath, WeightsFormat.Auto, "the file is empty.");
        }

        if (read >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04)
        {
            return WeightsFormat.PyTorch;
        }

        if (read >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 && !IsTorchSharpFile(fullPath))
        {
            // A pickle's protocol header, and TorchSharp's reader (whose entry counts 256, 384, ... begin the
            // same way) cannot make sense of it.
            throw new WeightsFileException(fullPath, WeightsFormat.PyTorch,
                "it is a bare Python pickle (PyTorch's legacy format, torch.save(..., _use_new_zipfile_serialization=False), " +
                "or a pickle.dump). Re-save it in Python with torch.save(model.state_dict(), path) (PyTorch 1.6 or later).");
        }

        if (read == 9 && head[8] == (byte)'{')
        {
            ulong headerLength = BitConverter.ToUInt64(head[..8]);
            if (headerLength >= 2 && headerLength <= (ulong)(stream.Length - 8))
            {
                return WeightsFormat.Safetensors;
            }
        }

        return WeightsFormat.TorchSharp;
    }

    private static bool IsTorchSharpFile(string fullPath)
    {
        try
        {
            _ = new TorchSharpSource(fullPath);
            return true;
        }
        catch (WeightsFileException)
        {
            return false;
        }
    }

    protected WeightsFileException Corrupt(string problem, Exception? inner = null) =>
        new(FullPath, Format, problem, inner);

    /// <summary>Copies a loaded tensor into a target, checking the shape once more (a file whose data disagrees with
    /// the shapes it listed is corrupt; nothing broadcasts).</summary>
    protected void CopyTensor(string key, Tensor target, Tensor source)
    {
        if (!target.shape.AsSpan().SequenceEqual(source.shape))
        {
            throw Corrupt($"the tensor '{key}' read as {ShapeText.Of(source)}, but the model's has shape {ShapeText.Of(target)}.");
        }

        target.copy_(source);
    }

    /// <summary>Bytes per element of the dtypes that weights files hold.</summary>
    protected static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => -1,
    };
}

/// <summary>TorchSharp's format: a LEB128 entry count, then per entry a key string, dtype, rank, dims and raw bytes.</summary>
internal sealed class TorchSharpSource : WeightsSource
{
    private const int MaxRank = 64;
    private readonly List<(WeightsEntry Entry, long DataOffset)> _entries = [];

    public TorchSharpSource(string fullPath)
        : base(fullPath, WeightsFormat.TorchSharp)
    {
        using var stream = File.OpenRead(fullPath);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            long count = Decode(reader);
            if (count < 0 || count > stream.Length)
            {
                throw Corrupt($"the entry count {count} is impossible for a file of {stream.Length} bytes.");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (long i = 0; i < count; i++)
            {
                string key = reader.ReadString();
                var dtype = (ScalarType)Decode(reader);
                long size = ElementSize(dtype);
                if (size < 0)
                {
                    throw Corrupt($"entry {i} ('{key}') has an unknown element type code {(long)dtype}.");
                }

                long rank = Decode(reader);
                if (rank < 0 || rank > MaxRank)
                {
                    throw Corrupt($"entry {i} ('{key}') has an impossible rank {rank}.");
                }

                var shape = new long[rank];
                long bytes = size;
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = Decode(reader);
                    if (shape[d] < 0)
                    {
                        throw Corrupt($"entry {i} ('{key}') has a negative size {shape[d]} in dimension {d}.");
                    }

                    bytes = checked(bytes * shape[d]);
                }

                long offset = stream.Position;
                if (bytes > stream.Length - offset)
                {
                    throw Corrupt($"entry {i} ('{key}', {ShapeText.Format(shape)} {dtype}) needs {bytes} bytes but only {stream.Length - offset} remain: the file is truncated or not in TorchSharp's format.");
                }

                if (!seen.Add(key))
                {
                    throw Corrupt($"the key '{key}' appears twice.");
                }

                _entries.Add((new WeightsEntry(key, shape, dtype), offset));
                stream.Seek(bytes, SeekOrigin.Current);
            }

            if (stream.Position != stream.Length)
            {
                throw Corrupt($"{stream.Length - stream.Position} bytes follow the last of its {count} entries: it is not in TorchSharp's format (supported: TorchSharp module.save files, PyTorch torch.save zip files, safetensors).");
            }
        }
        catch (Exception ex) when (ex is EndOfStreamException or OverflowException or FormatException or DecoderFallbackException)
        {
            throw Corrupt("it ends early or is not in TorchSharp's format (supported: TorchSharp module.save files, PyTorch torch.save zip files, safetensors).", ex);
        }
    }

    public override IReadOnlyList<WeightsEntry> Entries => _entries.Select(e => e.Entry).ToList();

    public override void CopyInto(IReadOnlyDictionary<string, Tensor> targets)
    {
        using var stream = File.OpenRead(FullPath);
        foreach (var (entry, offset) in _entries)
        {
            if (!targets.TryGetValue(entry.Key, out var target))
            {
                continue;
            }

            using var loaded = torch.empty(entry.Shape.ToArray(), entry.DType, device: CPU);
            stream.Position = offset;
            loaded.ReadBytesFromStream(stream);
            CopyTensor(entry.Key, target, loaded);
        }
    }

    /// <summary>Unsigned LEB128, as TorchSharp writes counts, dtypes and dims.</summary>
    private long Decode(BinaryReader reader)
    {
        long result = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift > 63)
            {
                throw Corrupt("a length field is malformed: it is not in TorchSharp's format (supported: TorchSharp module.save files, PyTorch torch.save zip files, safetensors).");
            }

            long b = reader.ReadByte();
            result |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
    }
}

/// <summary>A Python <c>torch.save(state_dict)</c> zip file, unpickled by TorchSharp.PyBridge.</summary>
internal sealed class PyTorchSource : WeightsSource
{
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    public PyTorchSource(string fullPath)
        : base(fullPath, WeightsFormat.PyTorch)
    {
        Hashtable? table;
        try
        {
            var entryLengths = CheckZipEntrySizes(fullPath);
            CheckPickleLengths(fullPath);
            using var stream = File.OpenRead(fullPath);

            // Unpickled with the tensors deferred, so that each declared shape is compared with its storage entry
            // before the tensor is allocated (PyBridge allocates the declared shape, then reads into it).
            table = ReadDeferredTensors(PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: true), entryLengths);
        }
        catch (WeightsFileException)
        {
            throw;
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or InvalidOperationException
            or NotImplementedException or NotSupportedException or InvalidCastException or FormatException
            or IndexOutOfRangeException or KeyNotFoundException or OverflowException or ArgumentException
            or Razorvine.Pickle.PickleException
            or (IOException and not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException))
        {
            throw Corrupt($"PyTorch's reader failed ({ex.GetType().Name}: {ex.Message}). Expected a zip file written by torch.save(model.state_dict(), path).", ex);
        }

        if (table is null)
        {
            throw Corrupt("the pickle holds no dictionary. Expected torch.save(model.state_dict(), path).");
        }

        foreach (DictionaryEntry item in table)
        {
            if (item.Key is not string key || item.Value is not Tensor tensor)
            {
                string kind = item.Value?.GetType().Name ?? "null";
                throw Corrupt($"the entry '{item.Key}' holds a {kind}, not a tensor: the file is not a bare state_dict (a checkpoint dictionary? save its model.state_dict() alone).");
            }

            _tensors.Add(key, tensor);
        }
    }

    /// <summary>
    /// The unpickler allocates each entry's declared size before reading it; a forged size in the zip's directory
    /// would allocate gigabytes for a file of kilobytes. torch.save stores its entries uncompressed, so no entry can
    /// be larger than the file (compressed ones, which torch.save does not write, may be up to 1,024 times larger).
    /// </summary>
    /// <returns>The declared (uncompressed) length of every entry, in the archive's order.</returns>
    private List<long> CheckZipEntrySizes(string fullPath)
    {
        long fileLength = new FileInfo(fullPath).Length;
        using var zip = new ZipArchive(File.OpenRead(fullPath), ZipArchiveMode.Read);
        var lengths = new List<long>(zip.Entries.Count);
        foreach (var entry in zip.Entries)
        {
            lengths.Add(entry.Length);
            long limit = entry.CompressedLength == entry.Length ? fileLength : fileLength * 1024;
            if (entry.Length > limit || entry.CompressedLength > fileLength)
            {
                throw Corrupt($"its zip entry '{entry.FullName}' declares {entry.Length} bytes ({entry.CompressedLength} compressed), more than a file of {fileLength} bytes can hold.");
            }
        }

        return lengths;
    }

    /// <summary>
    /// Checks every deferred tensor's declared shape, strides and offset against the bytes its storage entry holds,
    /// then reads them all. A value that is not a deferred tensor is kept as it is (reported by the caller).
    /// </summary>
    private Hashtable? ReadDeferredTensors(Hashtable? deferred, List<long> entryLengths)
    {
        if (deferred is null)
        {
            return null;
        }

        var pending = new List<(object Key, DeferredTensor Tensor)>();
        var result = new Hashtable(deferred.Count);
        try
        {
            foreach (DictionaryEntry item in deferred)
            {
                if (item.Value is not null && DeferredTensor.TryWrap(item.Value) is { } tensor)
                {
                    long entryBytes = tensor.ArchiveIndex >= 0 && tensor.ArchiveIndex < entryLengths.Count ? entryLengths[tensor.ArchiveIndex] : -1;
                    CheckDeclaredTensor(item.Key.ToString() ?? string.Empty, tensor, entryBytes);
                    pending.Add((item.Key, tensor));
                }
                else
                {
                    result[item.Key] = item.Value;
                }
            }

            for (int i = 0; i < pending.Count; i++)
            {
                var (key, tensor) = pending[i];
                pending[i] = (key, null!);
                result[key] = tensor.Read();
            }

            return result;
        }
        catch
        {
            foreach (var value in result.Values)
            {
                (value as Tensor)?.Dispose();
            }

            throw;
        }
        finally
        {
            foreach (var (_, tensor) in pending)
            {
                tensor?.Close();
            }
        }
    }

    private void CheckDeclaredTensor(string key, DeferredTensor tensor, long entryBytes)
    {
        long[] shape = tensor.Shape;
        long[] stride = tensor.Stride;
        if (shape.FirstOrDefault(d => d < 0, 0) is var negative and < 0)
        {
            throw Corrupt($"the tensor '{key}' has a negative size {negative} in its shape {ShapeText.Format(shape)}.");
        }

        if (stride.Length != shape.Length || stride.Any(st => st < 0) || tensor.StorageOffset < 0)
        {
            throw Corrupt($"the tensor '{key}' has strides {ShapeText.Format(stride)} and storage offset {tensor.StorageOffset} that do not fit its shape {ShapeText.Format(shape)}.");
        }

        long elementSize = ElementSize(tensor.DType);
        if (elementSize < 0)
        {
            throw Corrupt($"the tensor '{key}' has the unsupported dtype {tensor.DType}.");
        }

        long elements = shape.Aggregate(1L, (product, size) => checked(product * size));
        long bytes = checked(elements * elementSize);
        if (entryBytes < 0 || bytes > entryBytes)
        {
            throw Corrupt($"the tensor '{key}' declares {ShapeText.Format(shape)} {tensor.DType} ({bytes} bytes), but its storage entry holds {Math.Max(entryBytes, 0)} bytes.");
        }

        if (elements > 0)
        {
            long last = tensor.StorageOffset;
            for (int d = 0; d < shape.Length; d++)
            {
                last = checked(last + ((shape[d] - 1) * stride[d]));
            }

            if (last >= elements)
            {
                throw Corrupt($"the tensor '{key}' ({ShapeText.Format(shape)}) has strides {ShapeText.Format(stride)} and storage offset {tensor.StorageOffset} that reach element {last} of {elements}.");
            }
        }
    }

    /// <summary>
    /// PyBridge's deferred tensor (<c>UnpickleStateDict(..., skipTensorRead: true)</c> returns instances of its internal
    /// <c>TensorConstructorArgs</c>): its declared shape, strides, offset, dtype and storage entry, read by reflection,
    /// and <c>ReadTensorFromStream()</c>, which allocates the declared shape and reads it.
    /// </summary>
    private sealed class DeferredTensor
    {
        private const string TypeName = "TensorConstructorArgs";
        private readonly object _args;

        private DeferredTensor(object args)
        {
            _args = args;
            var type = args.GetType();
            Shape = (long[])Get(type, "Shape");
            Stride = (long[])Get(type, "Stride");
            StorageOffset = (int)Get(type, "StorageOffset");
            DType = (ScalarType)Get(type, "DType");
            ArchiveIndex = (int)Get(type, "ArchiveIndex");
        }

        public long[] Shape { get; }

        public long[] Stride { get; }

        public long StorageOffset { get; }

        public ScalarType DType { get; }

        public int ArchiveIndex { get; }

        public static DeferredTensor? TryWrap(object value) =>
            value.GetType().Name == TypeName ? new DeferredTensor(value) : null;

        public Tensor Read()
        {
            var read = _args.GetType().GetMethod("ReadTensorFromStream", Type.EmptyTypes)
                ?? throw new MissingMethodException(_args.GetType().FullName, "ReadTensorFromStream");
            return (Tensor)read.Invoke(_args, System.Reflection.BindingFlags.DoNotWrapExceptions, null, null, null)!;
        }

        public void Close() => (_args.GetType().GetProperty("Data")?.GetValue(_args) as Stream)?.Dispose();

        private object Get(Type type, string name) =>
            (type.GetProperty(name) ?? throw new MissingMemberException(type.FullName, name)).GetValue(_args)
            ?? throw new MissingMemberException(type.FullName, name);
    }

    /// <summary>
    /// The unpickler (Razorvine.Pickle, under PyBridge) allocates the length that a string or bytes opcode declares
    /// before reading it: one flipped bit in a BINUNICODE length made it allocate 1.4-1.6 GB for a file of 11 KB.
    /// This walks the pickle's opcodes once (no objects built) and compares every declared length with the bytes that
    /// follow it; the pickle is read into memory as it actually decompresses, never by a declared size.
    /// </summary>
    private void CheckPickleLengths(string fullPath)
    {
        using var zip = new ZipArchive(File.OpenRead(fullPath), ZipArchiveMode.Read);
        var entry = zip.Entries.FirstOrDefault(e => e.Name.EndsWith("data.pkl", StringComparison.Ordinal));
        if (entry is null)
        {
            throw Corrupt("its zip archive has no data.pkl entry. Expected a zip file written by torch.save(model.state_dict(), path).");
        }

        byte[] pickle;
        using (var data = new MemoryStream())
        {
            using (var source = entry.Open())
            {
                source.CopyTo(data);
            }

            pickle = data.ToArray();
        }

        PickleScan.CheckLengths(pickle, problem => Corrupt($"its pickle (zip entry '{entry.FullName}', {pickle.Length} bytes) {problem}"));
    }

    public override IReadOnlyList<WeightsEntry> Entries => _tensors
        .OrderBy(kv => kv.Key, StringComparer.Ordinal)
        .Select(kv => new WeightsEntry(kv.Key, kv.Value.shape, kv.Value.dtype))
        .ToList();

    public override void CopyInto(IReadOnlyDictionary<string, Tensor> targets)
    {
        foreach (var (key, target) in targets)
        {
            if (_tensors.TryGetValue(key, out var source))
            {
                CopyTensor(key, target, source);
            }
        }
    }
}

/// <summary>A safetensors file: the header is parsed here; the tensors are read by TorchSharp.PyBridge.</summary>
internal sealed class SafetensorsSource : WeightsSource
{
    private readonly List<WeightsEntry> _entries = [];

    public SafetensorsSource(string fullPath)
        : base(fullPath, WeightsFormat.Safetensors)
    {
        using var stream = File.OpenRead(fullPath);
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
        {
            throw Corrupt("it is shorter than the 8-byte header length.");
        }

        ulong headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength > (ulong)(stream.Length - 8) || headerLength > int.MaxValue)
        {
            throw Corrupt($"the header length {headerLength} exceeds the file's {stream.Length} bytes.");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = stream.Length - 8 - (long)headerLength;
        try
        {
            using var document = JsonDocument.Parse(header);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                var value = property.Value;
                string dtypeText = value.GetProperty("dtype").GetString() ?? string.Empty;
                var dtype = ParseDType(dtypeText, property.Name);
                var shape = value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (shape.FirstOrDefault(d => d < 0, 0) is var negative and < 0)
                {
                    throw Corrupt($"the tensor '{property.Name}' has a negative size {negative} in its shape {ShapeText.Format(shape)}.");
                }

                long expected = shape.Aggregate(ElementSize(dtype), (product, size) => checked(product * size));
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != expected)
                {
                    throw Corrupt($"the tensor '{property.Name}' ({ShapeText.Format(shape)} {dtype}) has data offsets [{string.Join(", ", offsets)}] that do not fit its size ({expected} bytes) or the file ({dataLength} data bytes).");
                }

                _entries.Add(new WeightsEntry(property.Name, shape, dtype));
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw Corrupt($"its JSON header is malformed ({ex.Message}).", ex);
        }
    }

    public override IReadOnlyList<WeightsEntry> Entries => _entries;

    public override void CopyInto(IReadOnlyDictionary<string, Tensor> targets)
    {
        using var stream = File.OpenRead(FullPath);
        var loaded = Safetensors.LoadStateDict(stream, leaveOpen: false, keysToKeep: targets.Keys.ToList());
        foreach (var (key, source) in loaded)
        {
            CopyTensor(key, targets[key], source);
        }
    }

    private ScalarType ParseDType(string text, string key) => text switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw Corrupt($"the tensor '{key}' has the unsupported dtype '{text}'."),
    };
}
