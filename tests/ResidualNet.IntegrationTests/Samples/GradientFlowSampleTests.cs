using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Data;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using ResidualNet.Samples;
using ResidualNet.Samples.GradientFlow;
using Xunit;
using Xunit.Abstractions;

namespace ResidualNet.IntegrationTests.Samples;

/// <summary>
/// The README's main job (samples/GradientFlow): its headline claims, asserted with margins on generated data
/// (deterministic, seconds), its outputs in quick mode, and its options (Spectre.Console.Cli) with bad input.
/// </summary>
public sealed class GradientFlowSampleTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "residualnet-gradient-flow-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, true);
        }
    }

    private static SampleResult Run(params string[] args) => SampleRun.Capture(GradientFlowSample.Run, CancellationToken.None, args);

    /// <summary>
    /// The sample's measurement of one network over seeds 1 and 2, each with its own batch of 8 generated 28x28 images
    /// (<see cref="FashionMnist.CreateSynthetic"/>), 2 probes per block, as the sample runs it.
    /// </summary>
    private SeedSummary Measure(NetworkKind kind, string activation, bool batchNorm, int depth)
    {
        using var data = FashionMnist.CreateSynthetic(64, 8, seed: 3);
        var seeds = new List<NetworkMeasurement>();
        foreach (int seed in new[] { 1, 2 })
        {
            using var batch = data.Train.RandomSubset(8, seed);
            seeds.Add(GradientFlowSample.Measure(kind, activation, batchNorm, depth, batch.Images, batch.Labels, seed, probes: 2));
        }

        var summary = new SeedSummary(seeds);
        log.WriteLine($"{kind}-{depth} {activation}{(batchNorm ? " BN" : string.Empty)}: gain/block {summary.Gain:0.0000} [{summary.GainMin:0.0000}-{summary.GainMax:0.0000}], J'v {summary.IdentityGain:0.0000} (branch {summary.Branch:0.0000}), {summary.Verdict}");
        return summary;
    }

    [Fact]
    public void SigmoidWithoutNormalisationVanishesInThePlainTwinAndFlowsThroughTheResidualNetwork()
    {
        foreach (int depth in new[] { 20, 56 })
        {
            var plain = Measure(NetworkKind.Plain, "sigmoid", false, depth);
            var residual = Measure(NetworkKind.Residual, "sigmoid", false, depth);
            var v1 = Measure(NetworkKind.PostActivation, "sigmoid", false, depth);

            // Measured (generated data, seeds 1-2): plain 0.09-0.10 per block, residual 1.00-1.01, v1 0.23-0.24.
            plain.GainMax.Should().BeLessThan(0.3, "each plain sigmoid block passes on about a tenth of the gradient");
            residual.GainMin.Should().BeGreaterThan(0.95);
            residual.GainMax.Should().BeLessThan(1.05, "the identity path carries the gradient through unchanged");
            v1.GainMax.Should().BeLessThan(0.5, "in a post-activation block the sigmoid sits on the identity path");

            // The identity term: J = I + dF/dx with a small branch part; a plain block has only the branch.
            residual.IdentityGain.Should().BeInRange(0.95, 1.05);
            residual.Branch.Should().BeLessThan(0.3);
            plain.IdentityGain.Should().BeLessThan(0.3);

            plain.Verdict.Should().Be(GradientFlowVerdict.Vanishing);
            residual.Verdict.Should().Be(GradientFlowVerdict.Healthy);
            v1.Verdict.Should().Be(GradientFlowVerdict.Vanishing);
        }
    }

    [Fact]
    public void ReluWithoutNormalisationFlowsInThePlainTwinAndGrowsAboutRootTwoPerResidualBlock()
    {
        var plain = Measure(NetworkKind.Plain, "relu", false, 56);
        var residual = Measure(NetworkKind.Residual, "relu", false, 56);

        // Measured: plain about 0.95 per block; residual about 1.35: each unnormalised branch adds its own variance,
        // so the gradient's variance roughly doubles per block and its norm grows by about sqrt(2).
        plain.Gain.Should().BeInRange(0.8, 1.05);
        plain.Verdict.Should().Be(GradientFlowVerdict.Healthy);
        residual.Gain.Should().BeInRange(1.2, 1.6);
        residual.Verdict.Should().Be(GradientFlowVerdict.Exploding);
    }

    [Fact]
    public void WithBatchNormThePlainReluTwinGrowsTowardsTheInputFasterThanTheResidualNetwork()
    {
        var plain = Measure(NetworkKind.Plain, "relu", true, 56);
        var residual = Measure(NetworkKind.Residual, "relu", true, 56);
        var plainSigmoid = Measure(NetworkKind.Plain, "sigmoid", true, 56);

        // Measured: plain about 1.5 per block, residual about 1.3; with BatchNorm even the plain sigmoid twin does not vanish (about 0.94).
        plain.Gain.Should().BeGreaterThan(1.3);
        residual.Gain.Should().BeLessThan(plain.Gain - 0.05);
        plainSigmoid.Gain.Should().BeInRange(0.85, 1.1);
        plainSigmoid.Verdict.Should().Be(GradientFlowVerdict.Healthy);
    }

    [Fact]
    public void MeasurementsAreDeterministicForAGivenSeedAndLeakNothing()
    {
        using var data = FashionMnist.CreateSynthetic(32, 8, seed: 5);
        using var batch = data.Train.RandomSubset(8, 1);
        var first = GradientFlowSample.Measure(NetworkKind.Residual, "relu", true, 20, batch.Images, batch.Labels, seed: 4, probes: 1);
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var second = GradientFlowSample.Measure(NetworkKind.Residual, "relu", true, 20, batch.Images, batch.Labels, seed: 4, probes: 1);
        TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(live, "a measurement leaves no tensor behind");
        second.InputGradientNorms.Should().Equal(first.InputGradientNorms);
        second.IdentityGain.Should().Be(first.IdentityGain);
        var other = GradientFlowSample.Measure(NetworkKind.Residual, "relu", true, 20, batch.Images, batch.Labels, seed: 5, probes: 1);
        other.InputGradientNorms.Should().NotEqual(first.InputGradientNorms, "another seed draws other initial weights");
    }

    [Fact]
    public void TheNetworksAreTheLibraryPresets()
    {
        var residual = GradientFlowSample.Options(NetworkKind.Residual, 56, ActivationFactory.Sigmoid, batchNorm: false);
        GradientFlowSample.Options(NetworkKind.Plain, 56, ActivationFactory.Sigmoid, batchNorm: false).Should().Be(residual.AsPlain());
        residual.Stages.Should().OnlyContain(s => s.Kind == BlockKind.PreActBasic);
        residual.BlockCount.Should().Be(27);
        residual.InputChannels.Should().Be(1);
        residual.Block.Norm.Should().Be(NormFactory.None);
        GradientFlowSample.Options(NetworkKind.PostActivation, 110, ActivationFactory.ReLU, batchNorm: true).Stages
            .Should().OnlyContain(s => s.Kind == BlockKind.Basic);
    }

    [Fact]
    public void QuickRunPrintsTheClaimThenTheTableAndWritesThePngAndCsv()
    {
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        foreach (var (prefix, count, seed) in new[] { ("train", 200, 1), ("t10k", 20, 2) })
        {
            var (images, labels) = SyntheticImages.Generate(count, seed);
            IdxFile.WriteImages(Path.Combine(data, $"{prefix}-images-idx3-ubyte.gz"), images, gzip: true);
            IdxFile.WriteLabels(Path.Combine(data, $"{prefix}-labels-idx1-ubyte.gz"), labels, gzip: true);
        }

        string outDir = Path.Combine(_dir, "out");
        var r = Run("--quick", "--threads", "1", "--data", data, "--out", outDir);

        r.Code.Should().Be(0, r.Error);
        r.Error.Should().BeEmpty();
        r.Out.IndexOf("The claim:", StringComparison.Ordinal).Should().BeLessThan(r.Out.IndexOf("sigmoid, no normalisation", StringComparison.Ordinal));
        r.Out.Should().Contain("2 seed(s) (1, 2)").And.Contain("batch of 8 training images").And.Contain("Verdict: the first block gets about gain^blocks");
        foreach (string panel in new[] { "sigmoid, no normalisation", "sigmoid, BatchNorm", "relu, no normalisation", "relu, BatchNorm" })
        {
            r.Out.Should().Contain(panel + "\n");
        }

        var rows = r.Out.Split('\n').Where(l => l.StartsWith("   20      9 |", StringComparison.Ordinal) || l.StartsWith("   56     27 |", StringComparison.Ordinal)).ToList();
        rows.Should().HaveCount(8, "2 depths in each of 4 panels");
        r.Out.Should().MatchRegex(@"Wall time \d+\.\d s, 1 thread\(s\), 48 networks\.");

        File.ReadAllLines(Path.Combine(outDir, "gradient-flow.csv")).Should().HaveCount(1 + 48, "2 seeds x 2 activations x 2 norms x 2 depths x 3 networks");
        File.ReadAllLines(Path.Combine(outDir, "gradient-flow-blocks.csv")).Should().HaveCount(1 + (2 * 2 * 2 * 3 * (9 + 27)));
        new FileInfo(Path.Combine(outDir, "gradient-flow.png")).Length.Should().BeGreaterThan(20_000);
    }

    public static TheoryData<string[], string> BadInputs() => new()
    {
        { ["--depths", "21"], "error: --depths: '21' is not a CIFAR ResNet depth (6n + 2 between 8 and 1202, such as 20, 56, 110, 218).\n" },
        { ["--depths", "20,abc"], "error: --depths: 'abc' is not a CIFAR ResNet depth" },
        { ["--depths", ","], "error: --depths expects a comma-separated list of depths; got ','.\n" },
        { ["--activations", "swish"], "error: --activations: unknown item 'swish'; choose from sigmoid, relu, tanh.\n" },
        { ["--batch-size", "1"], "error: --batch-size must be between 2 and 4096; got 1.\n" },
        { ["--seeds", "0"], "error: --seeds must be between 1 and 100; got 0.\n" },
        { ["--norm", "layer"], "error: " },
        { ["--threads", "x"], "error: " },
        { ["--no-such-option"], "error: " },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadOptionsEndWithOneLineAndExitCode2(string[] args, string expectedStart)
    {
        var r = Run(args);
        log.WriteLine(r.Error);
        r.Code.Should().Be(2);
        r.Error.Should().StartWith(expectedStart).And.EndWith("\n");
        r.Error.TrimEnd('\n').Should().NotContain("\n");
        r.Out.Should().BeEmpty();
    }

    [Fact]
    public void BadOptionValuesAreNamedInTheMessage()
    {
        Run("--norm", "layer").Error.Should().Contain("layer");
        Run("--no-such-option").Error.Should().Contain("no-such-option");
    }

    [Fact]
    public void HelpListsTheOptions()
    {
        var r = Run("--help");
        r.Code.Should().Be(0);
        r.Out.Should().Contain("--depths").And.Contain("--seeds").And.Contain("--probes").And.Contain("--quick");
    }

    [Fact]
    public void ThePageQuotesTheCommittedRunAndItsTableFollowsFromItsCsv()
    {
        string output = File.ReadAllText(RepositoryFile("docs/results/gradient-flow/output.txt")).TrimEnd('\n');
        File.ReadAllText(RepositoryFile("docs/gradient-flow.md")).Should().Contain(output, "the page pastes the committed run's output");

        // Every printed median gain per block is the median over seeds of the CSV's gain_per_block.
        var rows = File.ReadAllLines(RepositoryFile("docs/results/gradient-flow/gradient-flow.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        rows.Should().HaveCount(180, "5 seeds x 2 activations x 2 norms x 3 depths x 3 networks");
        var lines = output.Split('\n');
        foreach (var group in rows.GroupBy(r => (Activation: r[0], Norm: r[1], Depth: r[2], Kind: r[4])))
        {
            string median = SeedSummary.Median(group.Select(r => double.Parse(r[6], CultureInfo.InvariantCulture))).ToString("0.000", CultureInfo.InvariantCulture);
            string panel = $"{group.Key.Activation}, {(group.Key.Norm == "bn" ? "BatchNorm" : "no normalisation")}";
            string row = lines.SkipWhile(l => l != panel).First(l => l.StartsWith($"{group.Key.Depth,5} ", StringComparison.Ordinal));
            var cells = row.Split('|');
            int column = group.Key.Kind switch { "Plain" => 1, "Residual" => 2, _ => 3 };
            cells[column].Trim().Should().StartWith(median, $"{panel}, depth {group.Key.Depth}, {group.Key.Kind}");
        }
    }

    private static string RepositoryFile(string relative, [CallerFilePath] string path = "")
        => Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "..", relative);

    [Fact]
    public void MissingOrCorruptDataIsOneLine()
    {
        string missing = Path.Combine(_dir, "no-such-folder");
        var r = Run("--quick", "--data", missing);
        r.Code.Should().Be(2);
        r.Error.Should().Be($"error: Fashion-MNIST folder '{missing}' does not exist.\n");
    }
}
