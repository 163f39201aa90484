using System.Linq;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ResidualNet.Onnx;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Issue 8, acceptance 3: inference of the same network (library resnet18 at 224x224, resnet20 at 32x32, batch 8,
/// fp32, CPU) in TorchSharp (baseline: the library's default path) and in ONNX Runtime on the file exported by
/// <see cref="OnnxExporter"/> (BatchNorm folded, ORT's default graph optimizations, as many intra-op threads as
/// TorchSharp uses). TorchSharp with its BatchNorms folded is shown too, so that the comparison does not credit
/// ONNX Runtime for the folding alone.
/// </summary>
public class OnnxRuntimeBenchmarks
{
    private nn.Module<Tensor, Tensor>? _model;
    private Tensor? _input;
    private InferenceSession? _session;
    private SessionOptions? _sessionOptions;
    private RunOptions? _runOptions;
    private OrtValue? _ortInput;
    private string[] _inputNames = null!;
    private string[] _outputNames = null!;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.OnnxNames))]
    public string Network { get; set; } = "resnet18";

    /// <summary>The batch size.</summary>
    [Params(8)]
    public int BatchSize { get; set; } = 8;

    /// <summary>Setup of TorchSharp's default path.</summary>
    [GlobalSetup(Target = nameof(TorchSharpDefault))]
    public void SetupTorchSharp() => SetupModel(fold: false);

    /// <summary>Setup of TorchSharp with folded BatchNorms.</summary>
    [GlobalSetup(Target = nameof(TorchSharpFolded))]
    public void SetupTorchSharpFolded() => SetupModel(fold: true);

    /// <summary>Setup of ONNX Runtime.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntime))]
    public void SetupOnnxRuntime()
    {
        using var model = Networks.Library(Network, torch.CPU);
        model.eval();
        byte[] onnx = OnnxExporter.ToModelProto(model).ToByteArray();
        _sessionOptions = new SessionOptions { IntraOpNumThreads = torch.get_num_threads(), InterOpNumThreads = 1 };
        _session = new InferenceSession(onnx, _sessionOptions);
        _runOptions = new RunOptions();
        using var images = RandomImagesOnCpu();
        _ortInput = OrtValue.CreateTensorValueFromMemory(images.data<float>().ToArray(), images.shape);
        _inputNames = new[] { _session.InputMetadata.Keys.Single() };
        _outputNames = new[] { _session.OutputMetadata.Keys.Single() };
    }

    /// <summary>TorchSharp, the library's default configuration (baseline).</summary>
    [Benchmark(Baseline = true)]
    public long TorchSharpDefault() => RunTorch();

    /// <summary>TorchSharp, BatchNorms folded.</summary>
    [Benchmark]
    public long TorchSharpFolded() => RunTorch();

    /// <summary>ONNX Runtime on the exported network.</summary>
    [Benchmark]
    public long OnnxRuntime()
    {
        using var outputs = _session!.Run(_runOptions, _inputNames, new[] { _ortInput! }, _outputNames);
        return outputs[0].GetTensorTypeAndShape().Shape[1];
    }

    private void SetupModel(bool fold)
    {
        _model = Networks.Library(Network, torch.CPU);
        _model.eval();
        if (fold)
        {
            _model.FoldBatchNorms();
        }

        _input = RandomImagesOnCpu();
    }

    private Tensor RandomImagesOnCpu()
    {
        // ONNX Runtime runs on the CPU here: keep this suite on the CPU whatever the device parameter says.
        manual_seed(1);
        int batch = Networks.Quick ? System.Math.Min(BatchSize, 2) : BatchSize;
        int size = Networks.InputSize(Network);
        return randn(batch, 3, size, size).DetachFromDisposeScope();
    }

    private long RunTorch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return _model!.call(_input!).shape[1];
    }

    /// <summary>Releases the model, session and inputs.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _input?.Dispose();
        _ortInput?.Dispose();
        _runOptions?.Dispose();
        _session?.Dispose();
        _sessionOptions?.Dispose();
    }
}
