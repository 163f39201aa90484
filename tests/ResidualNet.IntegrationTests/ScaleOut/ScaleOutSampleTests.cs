using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Samples;
using ResidualNet.Samples.ScaleOut;
using ResidualNet.Weights;
using ResidualNet.IntegrationTests.Samples;
using Xunit;
using Xunit.Abstractions;

namespace ResidualNet.IntegrationTests.ScaleOut;

/// <summary>samples/ScaleOut: the DDP round trip (Python category), and what it does without Python.</summary>
public sealed class ScaleOutSampleTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "residualnet-scale-out-" + Guid.NewGuid().ToString("N"));
    private readonly ITestOutputHelper _output;

    public ScaleOutSampleTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, true);
        }
    }

    private static SampleResult Run(params string[] args) => SampleRun.Capture(ScaleOutSample.Run, CancellationToken.None, args);

    /// <summary>A small generated data set as gzip IDX files (the format both sides read).</summary>
    private string DataFolder()
    {
        string dir = Path.Combine(_dir, "data");
        Directory.CreateDirectory(dir);
        foreach (var (prefix, count, seed) in new[] { ("train", 256, 1), ("t10k", 64, 2) })
        {
            var (images, labels) = SyntheticImages.Generate(count, seed);
            IdxFile.WriteImages(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"), images, gzip: true);
            IdxFile.WriteLabels(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"), labels, gzip: true);
        }

        return dir;
    }

    /// <summary>
    /// The round trip the issue asks CI to run: resnet18 for one channel and 10 classes, built in .NET, trained by two
    /// DDP processes (gloo) in PyTorch for a few steps, loaded back strictly, logits within 1e-4 of PyTorch's.
    /// </summary>
    [SkippableFact]
    [Trait("Category", "Python")]
    public void Two_process_ddp_round_trip_loads_strictly_with_pytorchs_logits()
    {
        PythonRequirement.SkipUnlessAvailable();
        string outDir = Path.Combine(_dir, "out");

        var r = Run("--model", "resnet18", "--processes", "2", "--steps", "6", "--batch-size", "8", "--lr", "0.01", "--log-every", "3",
            "--data", DataFolder(), "--out", outDir, "--python", PythonRequirement.Interpreter);
        _output.WriteLine(r.Out + r.Error);

        r.Code.Should().Be(0, r.Error + r.Out);
        r.Error.Should().BeEmpty();
        foreach (int rank in new[] { 0, 1 })
        {
            r.Out.Should().Contain($"[rank {rank}] step    3/6").And.Contain($"[rank {rank}] step    6/6");
        }

        r.Out.Should().Contain("world size 2 (gloo)").And.Contain("initial.pt loaded strictly into it (122 tensors)");
        r.Out.Should().Contain($"Loaded '{Path.Combine(outDir, "trained.pt")}' strictly into a fresh .NET ResNet: 122 tensors, exact key match True.");
        var difference = Regex.Match(r.Out, @"max \|\.NET - PyTorch\| = (\S+) ");
        difference.Success.Should().BeTrue(r.Out);
        double.Parse(difference.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture).Should().BeLessThanOrEqualTo(ScaleOutSample.LogitTolerance);
        var accuracy = Regex.Match(r.Out, @"\.NET \S+ \((\d+)/64\), PyTorch \S+ \((\d+)/64\)");
        accuracy.Success.Should().BeTrue(r.Out);
        accuracy.Groups[1].Value.Should().Be(accuracy.Groups[2].Value, "the same weights classify the same 64 test images the same way on both sides");

        // The trained weights differ from the initial ones: PyTorch did train them.
        using var initial = new ResNet(ModelRegistry.Default.GetOptions("resnet18") with { InputChannels = 1, NumClasses = 10 });
        using var trained = new ResNet(ModelRegistry.Default.GetOptions("resnet18") with { InputChannels = 1, NumClasses = 10 });
        ModelWeights.Load(initial, Path.Combine(outDir, "initial.pt"));
        ModelWeights.Load(trained, Path.Combine(outDir, "trained.pt"));
        using var before = initial.state_dict()["conv1.weight"];
        using var after = trained.state_dict()["conv1.weight"];
        TorchSharp.torch.allclose(before, after).Should().BeFalse();
    }

    [Fact]
    public void A_network_torchvision_cannot_rebuild_is_refused_up_front_naming_the_option()
    {
        string outDir = Path.Combine(_dir, "refused");

        var r = Run("--model", "plain_resnet18", "--out", outDir, "--python", "/nonexistent/python3");

        r.Code.Should().Be(SampleRunner.ExitBadInput);
        r.Error.Trim().Should().Be(
            "error: --model plain_resnet18: torchvision cannot rebuild this network, so PyTorch cannot train it: Block.HasShortcut = False (a plain twin: torchvision's blocks always add their shortcut).");
        Directory.Exists(outDir).Should().BeFalse("nothing is written for a network that cannot make the round trip");

        var cifar = Run("--model", "resnet20", "--out", outDir);
        cifar.Code.Should().Be(SampleRunner.ExitBadInput);
        cifar.Error.Should().Contain("StemWidth = 16").And.Contain("Block.Shortcut = ZeroPad").And.Contain("Stages = 3 stage(s)");
    }

    [Fact]
    public void Prepare_only_writes_the_network_and_its_torchvision_constructor_without_python()
    {
        string outDir = Path.Combine(_dir, "prepared");

        var r = Run("--prepare-only", "--data", DataFolder(), "--out", outDir, "--python", "/nonexistent/python3");

        r.Code.Should().Be(0, r.Error);
        r.Out.Should().Contain("torchrun --nnodes 2 --nproc_per_node 2 --rdzv_id scaleout --rdzv_backend c10d --rdzv_endpoint HOST:29500 --redirects 2 --tee 2");
        using var spec = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "model.json")));
        spec.RootElement.GetProperty("constructor").GetString().Should().Be("torchvision.models.resnet18(num_classes=10)");
        spec.RootElement.GetProperty("python").GetString().Should().Be(
            TorchvisionPortability.Check(ResNetPresets.ResNet(18) with { InputChannels = 1, NumClasses = 10 }).PythonCode);
        var comparison = ModelWeights.Compare(new ResNet(ModelRegistry.Default.GetOptions("resnet18") with { InputChannels = 1, NumClasses = 10 }), Path.Combine(outDir, "initial.pt"));
        comparison.IsExactMatch.Should().BeTrue();
        comparison.Format.Should().Be(WeightsFormat.PyTorch);
    }

    [Fact]
    public void Bad_input_gets_one_line_and_exit_code_2()
    {
        Run("--processes", "0").Error.Trim().Should().Be("error: --processes must be between 1 and 256; got 0.");
        Run("--model", "resnet9000").Error.Should().StartWith("error: Unknown model name 'resnet9000'.");
        Run("--prepare-only", "--evaluate-only").Error.Trim().Should().Be("error: --prepare-only and --evaluate-only exclude each other.");
        var missing = Run("--evaluate-only", "--out", Path.Combine(_dir, "empty"));
        missing.Code.Should().Be(SampleRunner.ExitBadInput);
        missing.Error.Should().Contain("trained.pt' does not exist: run the training first");
        var noPython = Run("--data", DataFolder(), "--out", Path.Combine(_dir, "no-python"), "--python", "/nonexistent/python3");
        noPython.Code.Should().Be(SampleRunner.ExitBadInput);
        noPython.Error.Trim().Should().Be(
            "error: training needs Python with torch and torchvision: '/nonexistent/python3' does not exist (Debian/Ubuntu: apt install python3-torchvision). Use --prepare-only to write the files without it.");
    }

    [Fact]
    public void The_scale_out_page_holds_the_generated_portability_table()
    {
        string page = File.ReadAllText(RepositoryFile("docs/scale-out.md")).Replace("\r\n", "\n", StringComparison.Ordinal);

        page.Should().Contain(ScaleOutSample.PortabilityTable(ModelRegistry.CreateWithPresets()).Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    private static string RepositoryFile(string relative, [CallerFilePath] string path = "")
        => Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "..", relative);

    [Fact]
    public void The_portability_table_lists_every_preset()
    {
        var r = Run("--portability");

        r.Code.Should().Be(0, r.Error);
        var rows = r.Out.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| network", StringComparison.Ordinal) && !l.StartsWith("| ---", StringComparison.Ordinal)).ToList();
        rows.Should().HaveCount(ModelRegistry.Default.List().Count);
        rows.Where(l => l.Contains("| yes |", StringComparison.Ordinal)).Should().HaveCount(10);
        rows.Should().Contain("| resnet18 | yes | `torchvision.models.resnet18()` |");
        rows.Should().Contain("| plain_resnet18 | no | Block.HasShortcut = False |");
    }
}
