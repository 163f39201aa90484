using System;
using System.IO;
using BenchmarkDotNet.Attributes;
using ResidualNet.Models;
using ResidualNet.OnnxRuntime;
using ResidualNet.Performance;
using ResidualNet.Samples;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Issue 16, item 1: CPU inference of resnet50 (batch 8, 224x224) and of the Classify sample's <c>wide-resnet-6</c>
/// (batch 128, 1 x 28 x 28) on every path the library offers: TorchSharp fp32 (TorchVision's resnet50 as the
/// baseline, the library's network), the library's bf16 fast path (folded, channels_last, bf16), and ONNX Runtime on
/// the exported network in fp32 and in int8 (<see cref="OnnxQuantizer"/>: uint8 activations, the default, and int8
/// symmetric activations), all through <see cref="OnnxRuntimeSession"/> (TorchSharp tensors in and out), with as many
/// ONNX Runtime intra-op threads as TorchSharp uses. Weights are random (speed does not depend on them); the int8
/// models are calibrated on 16 random inputs (min-max).
/// </summary>
/// <remarks>
/// TorchVision cannot build <c>wide-resnet-6</c>: for that network the baseline row runs the library's fp32 network,
/// the same model as <see cref="LibraryFp32"/> (so its two rows also show the run's noise).
/// </remarks>
public class QuantizedInferenceBenchmarks
{
    private nn.Module<Tensor, Tensor>? _model;
    private OnnxRuntimeSession? _session;
    private Tensor? _input;
    private string? _modelFile;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.QuantizedNames))]
    public string Network { get; set; } = "resnet50";

    private bool IsClassify => Network != "resnet50";

    private int BatchSize => Networks.Quick ? 2 : IsClassify ? 128 : 8;

    /// <summary>Setup of the baseline: TorchVision's resnet50, or the library's network where TorchVision has none.</summary>
    [GlobalSetup(Target = nameof(BaselineFp32))]
    public void SetupBaseline() => SetupTorch(IsClassify ? LibraryNetwork() : Networks.TorchVision(Network, torch.CPU), null);

    /// <summary>Setup of the library's fp32 network.</summary>
    [GlobalSetup(Target = nameof(LibraryFp32))]
    public void SetupLibrary() => SetupTorch(LibraryNetwork(), null);

    /// <summary>Setup of the library's fast path.</summary>
    [GlobalSetup(Target = nameof(LibraryBFloat16))]
    public void SetupBFloat16() => SetupTorch(LibraryNetwork(), InferenceOptions.Fast);

    /// <summary>Setup of ONNX Runtime, fp32.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntimeFp32))]
    public void SetupOnnxFp32() => SetupOnnx(null);

    /// <summary>Setup of ONNX Runtime, int8 with uint8 activations.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntimeInt8))]
    public void SetupOnnxInt8() => SetupOnnx(ActivationQuantization.UInt8);

    /// <summary>Setup of ONNX Runtime, int8 with int8 symmetric activations.</summary>
    [GlobalSetup(Target = nameof(OnnxRuntimeInt8SymmetricActivations))]
    public void SetupOnnxInt8Symmetric() => SetupOnnx(ActivationQuantization.Int8Symmetric);

    /// <summary>TorchVision's resnet50 in fp32 (baseline); the library's network for wide-resnet-6.</summary>
    [Benchmark(Baseline = true)]
    public long BaselineFp32() => RunTorch();

    /// <summary>The library's network, fp32, default path.</summary>
    [Benchmark]
    public long LibraryFp32() => RunTorch();

    /// <summary>The library's fast path: BatchNorm folded, channels_last, bf16.</summary>
    [Benchmark]
    public long LibraryBFloat16() => RunTorch();

    /// <summary>ONNX Runtime on the exported fp32 network (BatchNorm folded).</summary>
    [Benchmark]
    public long OnnxRuntimeFp32() => RunOnnx();

    /// <summary>ONNX Runtime on the int8 network, uint8 activations.</summary>
    [Benchmark]
    public long OnnxRuntimeInt8() => RunOnnx();

    /// <summary>ONNX Runtime on the int8 network, int8 symmetric activations.</summary>
    [Benchmark]
    public long OnnxRuntimeInt8SymmetricActivations() => RunOnnx();

    private ResNet LibraryNetwork() => IsClassify ? SampleNetworks.Classify.Find(Network).Create() : Networks.Library(Network, torch.CPU);

    private Tensor RandomImages(int count)
    {
        manual_seed(1);
        return IsClassify ? randn(count, 1, 28, 28) : randn(count, 3, Networks.InputSize(Network), Networks.InputSize(Network));
    }

    private void SetupTorch(nn.Module<Tensor, Tensor> model, InferenceOptions? options)
    {
        _model = model;
        _model.eval();
        using var images = RandomImages(BatchSize);
        if (options is null)
        {
            _input = images.clone().DetachFromDisposeScope();
            return;
        }

        _model.OptimizeForInference(options);
        _input = InferenceOptimizer.PrepareInput(images, options).DetachFromDisposeScope();
    }

    private void SetupOnnx(ActivationQuantization? activations)
    {
        using (ResNet network = LibraryNetwork())
        {
            network.eval();
            _modelFile = Path.Combine(Path.GetTempPath(), $"residualnet-bench-{Guid.NewGuid():N}.onnx");
            if (activations is { } type)
            {
                using var calibration = RandomImages(Networks.Quick ? 2 : 16);
                OnnxQuantizer.ExportQuantized(network, calibration, _modelFile, new QuantizationOptions { Activations = type, IntraOpThreads = torch.get_num_threads() });
            }
            else
            {
                ResidualNet.Onnx.OnnxExporter.Export(network, _modelFile);
            }
        }

        _session = new OnnxRuntimeSession(_modelFile, new OnnxRuntimeSessionOptions { IntraOpThreads = torch.get_num_threads() });
        _input = RandomImages(BatchSize).DetachFromDisposeScope();
    }

    private long RunTorch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return _model!.call(_input!).shape[1];
    }

    private long RunOnnx()
    {
        using Tensor output = _session!.Run(_input!);
        return output.shape[1];
    }

    /// <summary>Releases the model, session, input and model file.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _session?.Dispose();
        _input?.Dispose();
        if (_modelFile is not null && File.Exists(_modelFile))
        {
            File.Delete(_modelFile);
        }
    }
}
