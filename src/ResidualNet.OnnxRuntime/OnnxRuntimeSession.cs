using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace ResidualNet.OnnxRuntime;

/// <summary>How an <see cref="OnnxRuntimeSession"/> is created. Every property has a documented default.</summary>
public sealed record OnnxRuntimeSessionOptions
{
    /// <summary>ONNX Runtime intra-op threads; 0 (the default) lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// ONNX Runtime's graph optimizations. Default: <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>, which fuses the
    /// QDQ patterns of a quantized model into integer kernels and lays convolutions out for this CPU.
    /// </summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>When set, ONNX Runtime writes the graph it runs (after its optimizations) to this file; for inspection. Default: null.</summary>
    public string? OptimizedModelPath { get; init; }

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (IntraOpThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, $"IntraOpThreads must be 0 (ONNX Runtime's choice) or more; got {IntraOpThreads}.");
        }

        if (!Enum.IsDefined(OptimizationLevel))
        {
            throw new ArgumentOutOfRangeException(nameof(OptimizationLevel), OptimizationLevel, $"OptimizationLevel must be a GraphOptimizationLevel; got {OptimizationLevel}.");
        }
    }
}

/// <summary>
/// An ONNX Runtime inference session for a model with one float32 input and one float32 output (what
/// <c>OnnxExporter</c> and <see cref="OnnxQuantizer"/> write), taking and returning TorchSharp tensors. Thread-safe
/// for <see cref="Run"/>; dispose it to release the native session.
/// </summary>
public sealed class OnnxRuntimeSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly long[] _inputShape;
    private readonly string[] _inputLabels;
    private bool _disposed;

    // RS0026 (several overloads with optional parameters): the two constructors differ in their required first
    // parameter (a path or the bytes), so no call can bind to both, now or after a parameter is added to one.
#pragma warning disable RS0026
    /// <summary>Loads the ONNX file at <paramref name="modelPath"/>.</summary>
    /// <param name="modelPath">An ONNX file.</param>
    /// <param name="options">Session settings; <c>new OnnxRuntimeSessionOptions()</c> when null.</param>
    /// <exception cref="ArgumentException">The path is empty, the model does not have one float32 input and one float32 output, or an option is out of range (<see cref="OnnxRuntimeSessionOptions.Validate"/>).</exception>
    /// <exception cref="System.IO.FileNotFoundException">No file exists at <paramref name="modelPath"/> (a folder is not a file).</exception>
    /// <exception cref="OnnxModelFileException">ONNX Runtime cannot load the file (not ONNX, truncated, an unsupported operator or opset); it names the file and gives ONNX Runtime's reason.</exception>
    public OnnxRuntimeSession(string modelPath, OnnxRuntimeSessionOptions? options = null)
        : this(options, o => new InferenceSession(CheckedModelPath(modelPath), o), modelPath, nameof(modelPath))
    {
    }

    /// <summary>Loads a model from its ONNX bytes.</summary>
    /// <param name="model">The model, for example <see cref="QuantizationResult.ToByteArray"/>.</param>
    /// <param name="options">Session settings; <c>new OnnxRuntimeSessionOptions()</c> when null.</param>
    /// <exception cref="ArgumentException">The model does not have one float32 input and one float32 output, or an option is out of range (<see cref="OnnxRuntimeSessionOptions.Validate"/>).</exception>
    /// <exception cref="ArgumentException">Also when ONNX Runtime cannot load the bytes as a model (the inner exception is ONNX Runtime's).</exception>
    public OnnxRuntimeSession(byte[] model, OnnxRuntimeSessionOptions? options = null)
        : this(options, o => new InferenceSession(model, o), model, nameof(model))
    {
    }
#pragma warning restore RS0026

    private OnnxRuntimeSession(OnnxRuntimeSessionOptions? options, Func<SessionOptions, InferenceSession> create, object? model, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(model, parameterName);
        if (model is string { Length: 0 })
        {
            throw new ArgumentException("The model path is empty.", parameterName);
        }

        options ??= new OnnxRuntimeSessionOptions();
        options.Validate();

        _sessionOptions = new SessionOptions { IntraOpNumThreads = options.IntraOpThreads, InterOpNumThreads = 1, GraphOptimizationLevel = options.OptimizationLevel };
        if (options.OptimizedModelPath is { } optimized)
        {
            _sessionOptions.OptimizedModelFilePath = optimized;
        }

        try
        {
            try
            {
                _session = create(_sessionOptions);
            }
            catch (OnnxRuntimeException e) when (model is string path)
            {
                throw new OnnxModelFileException(System.IO.Path.GetFullPath(path), e.Message, e);
            }
            catch (OnnxRuntimeException e)
            {
                throw new ArgumentException($"ONNX Runtime cannot load these {((byte[])model).Length} bytes as a model: {e.Message}", parameterName, e);
            }

            if (_session.InputMetadata.Count != 1 || _session.OutputMetadata.Count != 1)
            {
                throw new ArgumentException($"OnnxRuntimeSession runs models with one input and one output; this one has {_session.InputMetadata.Count} input(s) and {_session.OutputMetadata.Count} output(s).", parameterName);
            }

            (string inputName, NodeMetadata input) = _session.InputMetadata.Single();
            (string outputName, NodeMetadata output) = _session.OutputMetadata.Single();
            if (input.ElementDataType != TensorElementType.Float || output.ElementDataType != TensorElementType.Float)
            {
                throw new ArgumentException($"OnnxRuntimeSession runs models with a float32 input and output; this one's input '{inputName}' is {input.ElementDataType} and its output '{outputName}' is {output.ElementDataType}.", parameterName);
            }

            _inputNames = new[] { inputName };
            _outputNames = new[] { outputName };
            _inputShape = input.Dimensions.Select(d => (long)d).ToArray();
            _inputLabels = input.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : (string.IsNullOrEmpty(input.SymbolicDimensions[i]) ? "?" : input.SymbolicDimensions[i])).ToArray();
        }
        catch
        {
            _session?.Dispose();
            _sessionOptions.Dispose();
            _runOptions.Dispose();
            throw;
        }
    }

    private static string CheckedModelPath(string modelPath)
    {
        string full = System.IO.Path.GetFullPath(modelPath);
        if (System.IO.Directory.Exists(full))
        {
            throw new System.IO.FileNotFoundException($"The ONNX model path '{full}' is a folder, not a file.", full);
        }

        if (!System.IO.File.Exists(full))
        {
            throw new System.IO.FileNotFoundException($"The ONNX model file '{full}' does not exist.", full);
        }

        return modelPath;
    }

    /// <summary>The name of the model's input.</summary>
    public string InputName => _inputNames[0];

    /// <summary>The name of the model's output.</summary>
    public string OutputName => _outputNames[0];

    /// <summary>The shape the model's input declares; -1 stands for a dynamic dimension (the batch).</summary>
    public IReadOnlyList<long> InputShape => _inputShape;

    /// <summary>
    /// Runs the model on <paramref name="input"/> (float32, any device; copied to the CPU when it is elsewhere and made
    /// contiguous when it is not) and returns its output as a new float32 CPU tensor, which the caller disposes (or a
    /// dispose scope does).
    /// </summary>
    /// <param name="input">The input batch, shaped as <see cref="InputShape"/> says.</param>
    /// <returns>The output batch.</returns>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="input"/> is not float32, or its shape does not fit the model's input.</exception>
    public Tensor Run(Tensor input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(input);
        if (input.dtype != ScalarType.Float32)
        {
            throw new ArgumentException($"input must be float32 (the model's input '{InputName}' is float32); got {input.dtype}. Convert it with input.to(ScalarType.Float32).", nameof(input));
        }

        Shapes.Check(input.shape, _inputShape, _inputLabels, InputName, nameof(input));
        using var scope = torch.NewDisposeScope();
        Tensor contiguous = input.device_type == DeviceType.CPU ? input.contiguous() : input.cpu().contiguous();
        using OrtValue value = OrtTensors.Wrap(contiguous);
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(_runOptions, _inputNames, new[] { value }, _outputNames);
        return OrtTensors.Copy(outputs[0]).MoveToOuterDisposeScope();
    }

    /// <summary>Releases the native session. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _session.Dispose();
        _sessionOptions.Dispose();
        _runOptions.Dispose();
    }
}
