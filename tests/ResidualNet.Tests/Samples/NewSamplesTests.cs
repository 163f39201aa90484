using System;
using System.IO;
using System.Linq;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Samples;
using ResidualNet.Samples.Classify;
using ResidualNet.Samples.CustomResNet;
using ResidualNet.Samples.GradientFlow;
using Xunit;

namespace ResidualNet.Tests.Samples;

/// <summary>GradientFlow and CustomResNet in quick mode, Classify's bf16 and fast-inference options, and bad input.</summary>
public sealed class NewSamplesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "residualnet-new-samples-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, true);
        }
    }

    private sealed record Result(int Code, string Out, string Error);

    private static Result Run(Func<string[], SampleConsole, CancellationToken, int> sample, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = sample(args, SampleConsole.ForWriters(output, error), CancellationToken.None);
        return new Result(code, output.ToString(), error.ToString());
    }

    private string DataFolder()
    {
        string dir = Path.Combine(_dir, "data");
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir);
            foreach (var (prefix, count, seed) in new[] { ("train", 300, 1), ("t10k", 100, 2) })
            {
                var (images, labels) = SyntheticImages.Generate(count, seed);
                IdxFile.WriteImages(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"), images, gzip: true);
                IdxFile.WriteLabels(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"), labels, gzip: true);
            }
        }

        return dir;
    }

    [Fact]
    public void GradientFlowQuickPrintsTheTableAndWritesThePng()
    {
        string outDir = Path.Combine(_dir, "gf");
        var r = Run(GradientFlowSample.Run, "--quick", "--threads", "1", "--data", DataFolder(), "--out", outDir);

        r.Code.Should().Be(0, r.Error);
        r.Error.Should().BeEmpty();
        var rows = r.Out.Split('\n').Where(l => l.StartsWith("| 20 ", StringComparison.Ordinal) || l.StartsWith("| 56 ", StringComparison.Ordinal)).ToList();
        rows.Should().HaveCount(16, "2 depths x plain/residual x ReLU/Sigmoid x BN/none");
        r.Out.Should().Contain("normalisation: each with BatchNorm after every convolution and without any normalisation");

        // Without normalisation, 27 sigmoid layers crush the gradient long before it reaches the first block.
        rows.Should().Contain(l => l.StartsWith("| 56 | plain | Sigmoid | none |", StringComparison.Ordinal) && l.EndsWith("| Vanishing |", StringComparison.Ordinal));
        new FileInfo(Path.Combine(outDir, "gradient-flow.png")).Length.Should().BeGreaterThan(5000);
        File.ReadAllLines(Path.Combine(outDir, "gradient-flow.csv")).Should().HaveCount(1 + (8 * (9 + 27)));
    }

    [Fact]
    public void GradientFlowMeasuresTheLibraryNetworks()
    {
        var plain = GradientFlowSample.Options(56, residual: false, ResidualNet.Layers.ActivationFactory.ReLU, batchNorm: true);
        var residual = GradientFlowSample.Options(56, residual: true, ResidualNet.Layers.ActivationFactory.ReLU, batchNorm: true);
        plain.Should().Be(residual.AsPlain());
        residual.InputChannels.Should().Be(1);
        residual.BlockCount.Should().Be(27);

        using var images = TorchSharp.torch.randn(4, 1, 28, 28);
        using var labels = TorchSharp.torch.tensor(new long[] { 0, 1, 2, 3 });
        var (step, diagnosis) = GradientFlowSample.Measure(GradientFlowSample.Options(20, true, ResidualNet.Layers.ActivationFactory.ReLU, true), images, labels, seed: 1);
        step.Blocks.Should().HaveCount(9);
        diagnosis.Norms.Should().HaveCount(9).And.OnlyContain(n => n > 0 && double.IsFinite(n));
        diagnosis.FirstToLastRatio.Should().BeApproximately(diagnosis.Norms[0] / diagnosis.Norms[^1], 1e-9 * diagnosis.FirstToLastRatio);
    }

    [Fact]
    public void CustomResNetPrintsItsSummaryAndReloadsIdentically()
    {
        string outDir = Path.Combine(_dir, "custom");
        var r = Run(CustomResNetSample.Run, "--quick", "--threads", "1", "--out", outDir);

        r.Code.Should().Be(0, r.Error);
        r.Out.Should().Contain("layer2.0 (Bottleneck)").And.Contain("layer3.0 (PreActBasicBlock)").And.Contain("act1 (Hardswish)");
        r.Out.Should().Contain("Total parameters: 394,610");
        r.Out.Should().Contain("exact key match: True").And.Contain("0 after; identical: True");
        File.Exists(Path.Combine(outDir, "custom-resnet.safetensors")).Should().BeTrue();

        var pt = Run(CustomResNetSample.Run, "--threads", "1", "--format", "pytorch", "--out", outDir);
        pt.Code.Should().Be(0, pt.Error);
        File.Exists(Path.Combine(outDir, "custom-resnet.pt")).Should().BeTrue();
    }

    [Fact]
    public void ClassifyBf16WithTheFastInferenceCheck()
    {
        string outDir = Path.Combine(_dir, "bf16");
        var r = Run(ClassifySample.Run, "--quick", "--threads", "1", "--data", DataFolder(), "--model", "wide-resnet-6", "--precision", "bf16", "--check-fast-inference", "--show", "0", "--out", outDir);

        r.Code.Should().Be(0, r.Error);
        r.Out.Should().Contain(", bf16, augmentation cropflip,");
        r.Out.Should().MatchRegex(@"Fast inference \(BatchNorm folded, channels_last, bf16\) against fp32 on all 100 test images: top-1 agreement \d+\.\d\d% \(\d+/100\)");
        File.Exists(Path.Combine(outDir, "wide-resnet-6.weights")).Should().BeTrue();

        // --evaluate-only reloads the saved file and scores exactly what the run reported.
        string Accuracy(string text) => text.Split('\n').Single(l => l.StartsWith("Test accuracy: ", StringComparison.Ordinal))[..28];
        string Agreement(string text) => text.Split('\n').Single(l => l.StartsWith("Fast inference ", StringComparison.Ordinal)).Split("; fast pass")[0];
        var again = Run(ClassifySample.Run, "--evaluate-only", "--threads", "1", "--data", DataFolder(), "--model", "wide-resnet-6", "--check-fast-inference", "--show", "0", "--out", outDir);
        again.Code.Should().Be(0, again.Error);
        Accuracy(again.Out).Should().Be(Accuracy(r.Out));
        Agreement(again.Out).Should().Be(Agreement(r.Out));

        var missing = Run(ClassifySample.Run, "--evaluate-only", "--data", DataFolder(), "--out", Path.Combine(_dir, "empty"));
        missing.Code.Should().Be(2);
        missing.Error.Should().StartWith("error: --evaluate-only: no saved model");
    }

    public static TheoryData<string, string[], string> BadInputs() => new()
    {
        { "gradientflow", ["--depths", "21"], "error: --depths: '21' is not a CIFAR ResNet depth (6n + 2 between 8 and 1202, such as 20, 32, 44, 56, 110).\n" },
        { "gradientflow", ["--depths", "20,abc"], "error: --depths: 'abc' is not a CIFAR ResNet depth" },
        { "gradientflow", ["--depths", ","], "error: --depths expects a comma-separated list of depths; got ','.\n" },
        { "gradientflow", ["--norm", "layer"], "error: --norm must be one of both, bn, none; got 'layer'." },
        { "gradientflow", ["--activations", "swish"], "error: --activations: unknown item 'swish'; choose from relu, sigmoid, tanh." },
        { "gradientflow", ["--batch-size", "1"], "error: --batch-size must be between 2 and 4096; got 1." },
        { "custom", ["--format", "onnx"], "error: --format must be one of safetensors, pytorch, torchsharp; got 'onnx'." },
        { "custom", ["--summary-depth", "x"], "error: --summary-depth expects a whole number; got 'x'." },
        { "classify", ["--precision", "fp8"], "error: --precision must be one of fp32, bf16; got 'fp8'." },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void NonsenseOptionsEndWithOneLineAndExitCode2(string sample, string[] args, string expectedStart)
    {
        var r = sample switch
        {
            "gradientflow" => Run(GradientFlowSample.Run, args),
            "custom" => Run(CustomResNetSample.Run, args),
            _ => Run(ClassifySample.Run, args),
        };
        r.Code.Should().Be(2);
        r.Error.Should().StartWith(expectedStart).And.EndWith("\n");
        r.Error.TrimEnd('\n').Should().NotContain("\n");
    }

    [Fact]
    public void GradientFlowMissingOrCorruptDataIsOneLine()
    {
        string missing = Path.Combine(_dir, "no-such-folder");
        var r = Run(GradientFlowSample.Run, "--quick", "--data", missing);
        r.Code.Should().Be(2);
        r.Error.Should().Be($"error: Fashion-MNIST folder '{missing}' does not exist.\n");

        string dir = DataFolder();
        File.Copy(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Path.Combine(dir, "train-labels-idx1-ubyte.gz"), overwrite: true);
        var corrupt = Run(GradientFlowSample.Run, "--quick", "--data", dir);
        corrupt.Code.Should().Be(2);
        corrupt.Error.Should().StartWith("error: ").And.Contain("magic number 0x00000803; expected 0x00000801");
        corrupt.Error.TrimEnd('\n').Should().NotContain("\n");
    }
}
