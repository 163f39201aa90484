using System;
using System.IO;
using FluentAssertions;
using Google.Protobuf;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.OnnxRuntime;
using ResidualNet.Performance;
using ResidualNet.TestSupport;
using ResidualNet.UnitTests.Onnx;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.OnnxRuntime;

/// <summary><see cref="OnnxRuntimeSession"/>: TorchSharp tensors in and out, clear errors, no leaks.</summary>
public class OnnxRuntimeSessionTests
{
    private static (ResNet Model, byte[] Onnx) Network()
    {
        torch.manual_seed(11);
        ResNet model = ModelRegistry.Default.Create("resnet20");
        OnnxNetworkExportTests.Calibrate(model, new long[] { 3, 32, 32 });
        return (model, OnnxExporter.ToModelProto(model).ToByteArray());
    }

    [Fact]
    public void Run_MatchesTorchSharp_ForContiguousAndChannelsLastInputs()
    {
        var (model, onnx) = Network();
        using var owner = model;
        using var session = new OnnxRuntimeSession(onnx);
        session.InputName.Should().Be("input");
        session.OutputName.Should().Be("output");
        session.InputShape.Should().Equal(-1, 3, -1, -1);

        using var x = torch.randn(3, 3, 32, 32);
        using var channelsLast = x.ToChannelsLast();
        using var noGrad = torch.no_grad();
        using var expected = model.call(x);
        using var actual = session.Run(x);
        using var fromChannelsLast = session.Run(channelsLast);
        actual.dtype.Should().Be(ScalarType.Float32);
        actual.device_type.Should().Be(DeviceType.CPU);
        actual.shape.Should().Equal(3, 10);
        (actual - expected).abs().max().item<float>().Should().BeLessThan(1e-4f);
        torch.allclose(fromChannelsLast, actual, rtol: 0, atol: 0).Should().BeTrue();
    }

    [Fact]
    public void Run_LeavesNoTensorAlive_ButItsResult()
    {
        var (model, onnx) = Network();
        using var owner = model;
        using var session = new OnnxRuntimeSession(onnx);
        using var x = torch.randn(2, 3, 32, 32);
        session.Run(x).Dispose();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++)
        {
            session.Run(x).Dispose();
        }

        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before);
    }

    [Fact]
    public void WrongInputs_AreRejectedWithClearMessages()
    {
        var (model, onnx) = Network();
        using var owner = model;
        using var session = new OnnxRuntimeSession(onnx);
        using var doubles = torch.randn(2, 3, 32, 32, ScalarType.Float64);
        using var grey = torch.randn(2, 1, 32, 32);
        using var flat = torch.randn(2, 3072);

        Action type = () => session.Run(doubles);
        type.Should().Throw<ArgumentException>().Where(e => e.ParamName == "input" && e.Message.Contains("must be float32") && e.Message.Contains("Float64"));
        Action channels = () => session.Run(grey);
        channels.Should().Throw<ArgumentException>().Where(e => e.ParamName == "input" && e.Message.Contains("[2, 1, 32, 32]") && e.Message.Contains("dimension 1 must be 3, not 1"));
        Action rank = () => session.Run(flat);
        rank.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("2 dimensions") && e.Message.Contains("[batch, 3, height, width]"));
        Action none = () => session.Run(null!);
        none.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void Dispose_IsIdempotent_AndRunThrowsAfterwards()
    {
        var (model, onnx) = Network();
        using var owner = model;
        var session = new OnnxRuntimeSession(onnx);
        session.Dispose();
        session.Dispose();
        using var x = torch.randn(1, 3, 32, 32);
        Action run = () => session.Run(x);
        run.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void CorruptModels_AreCorruptFileExceptions_NamingTheFile_OrArgumentExceptions_ForBytes()
    {
        var (model, onnx) = Network();
        using var owner = model;
        using var folder = new TempFolder();
        string truncated = Path.Combine(folder.Path, "truncated.onnx");
        File.WriteAllBytes(truncated, onnx.AsSpan(0, onnx.Length / 3).ToArray());
        string text = Path.Combine(folder.Path, "notes.onnx");
        File.WriteAllText(text, "not a model");
        string empty = Path.Combine(folder.Path, "empty.onnx");
        File.WriteAllBytes(empty, Array.Empty<byte>());

        foreach (string path in new[] { truncated, text, empty })
        {
            Action load = () => new OnnxRuntimeSession(path).Dispose();
            load.Should().Throw<OnnxModelFileException>()
                .Where(e => e.FilePath == path && e.Message.Contains(path) && e.Reason.Length > 0 && e.InnerException is Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
                .And.Should().BeAssignableTo<CorruptFileException>();
        }

        Action bytes = () => new OnnxRuntimeSession(onnx.AsSpan(0, onnx.Length / 3).ToArray()).Dispose();
        bytes.Should().Throw<ArgumentException>().Where(e => e.ParamName == "model" && e.Message.Contains("cannot load these") && e.InnerException is Microsoft.ML.OnnxRuntime.OnnxRuntimeException);

        using var session = new OnnxRuntimeSession(onnx);
        session.InputName.Should().Be("input", "a failed load leaves nothing behind that stops the next one");
    }

    [Fact]
    public void MissingOrUnusableModels_AreRejected()
    {
        Action empty = () => new OnnxRuntimeSession(string.Empty).Dispose();
        empty.Should().Throw<ArgumentException>().Where(e => e.ParamName == "modelPath");
        Action noBytes = () => new OnnxRuntimeSession((byte[])null!).Dispose();
        noBytes.Should().Throw<ArgumentNullException>().Where(e => e.ParamName == "model");
        using var folder = new TempFolder();
        string missingPath = Path.Combine(folder.Path, "missing.onnx");
        Action missing = () => new OnnxRuntimeSession(missingPath).Dispose();
        missing.Should().Throw<FileNotFoundException>().Where(e => e.FileName == missingPath && e.Message.Contains("does not exist"));
        Action directory = () => new OnnxRuntimeSession(folder.Path).Dispose();
        directory.Should().Throw<FileNotFoundException>().Where(e => e.Message.Contains("is a folder"));
        var (model, onnx) = Network();
        using var owner = model;
        Action threads = () => new OnnxRuntimeSession(onnx, new OnnxRuntimeSessionOptions { IntraOpThreads = -2 }).Dispose();
        threads.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "IntraOpThreads" && e.Message.Contains("got -2."));
    }
}
