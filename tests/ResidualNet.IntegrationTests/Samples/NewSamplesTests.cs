using System;
using System.IO;
using System.Linq;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Samples;
using ResidualNet.Samples.Classify;
using ResidualNet.Samples.CustomResNet;
using Xunit;

namespace ResidualNet.IntegrationTests.Samples;

/// <summary>CustomResNet in quick mode, Classify's bf16 and fast-inference options, and bad input (GradientFlow: GradientFlowSampleTests).</summary>
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

    private static SampleResult Run(Func<string[], SampleConsole, CancellationToken, int> sample, params string[] args) =>
        SampleRun.Capture(sample, CancellationToken.None, args);

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
            "custom" => Run(CustomResNetSample.Run, args),
            _ => Run(ClassifySample.Run, args),
        };
        r.Code.Should().Be(2);
        r.Error.Should().StartWith(expectedStart).And.EndWith("\n");
        r.Error.TrimEnd('\n').Should().NotContain("\n");
    }
}
