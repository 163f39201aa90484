using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.Tests.Diagnostics;

/// <summary>
/// The founding document's claims at initialisation, measured with the gradient-flow monitor on the toy networks
/// (He initialisation, seed 0, one fixed batch of 16 random 3x8x8 images, cross-entropy, 16 channels).
/// "Ratio" is ||dL/dW|| of the first convolution over that of the last convolution, and the block ratio is
/// ||dL/dx|| at the first block's input over that at the last block's input. Measured values are in the comments
/// and in docs/why-residual-connections-work.md.
/// </summary>
public class SeedClaimsTests(ITestOutputHelper output)
{
    internal static SeedMeasurement Measure(int depth, ToyActivation activation, bool residual, bool batchNorm = false)
    {
        var step = ToyNetworks.GradientFlowAtInit(depth, activation, residual, batchNorm);
        var convs = step.Parameters.Where(p => p.IsWeight && p.Name != "fc.weight").ToList();
        var blocks = step.Blocks;
        return new SeedMeasurement(
            convs[0].L2Norm,
            convs[^1].L2Norm,
            blocks[0].InputGradientNorm!.Value,
            blocks[^1].InputGradientNorm!.Value,
            step);
    }

    private SeedMeasurement Report(string label, SeedMeasurement m)
    {
        output.WriteLine($"{label}: first conv {m.FirstWeight:E3}, last conv {m.LastWeight:E3}, weight ratio {m.WeightRatio:E3}; " +
                         $"dL/dx first block {m.FirstBlock:E3}, last block {m.LastBlock:E3}, block ratio {m.BlockRatio:E3}");
        return m;
    }

    // (a) Measured: first conv ||dL/dW|| 3.965e-12, last conv 1.367e-1, ratio 2.899e-11;
    //     ||dL/dx|| first block 9.004e-13, last block 3.426e-4, block ratio 2.628e-9.
    [Fact]
    public void PlainSigmoidNetworkOf20LayersVanishes()
    {
        var m = Report("plain-20 sigmoid", Measure(20, ToyActivation.Sigmoid, residual: false));
        m.WeightRatio.Should().BeLessThan(1e-9, "measured 2.9e-11");
        m.BlockRatio.Should().BeLessThan(1e-7, "measured 2.6e-9");
        GradientFlowAnalysis.Diagnose(m.Step).Verdict.Should().Be(GradientFlowVerdict.Vanishing);
    }

    // (b) Measured: ReLU plain-20 ratio 3.987e-1 (block ratio 6.674e-1) against sigmoid's 2.899e-11.
    [Fact]
    public void PlainReluNetworkOfTheSameDepthVanishesFarLess()
    {
        var relu = Report("plain-20 relu", Measure(20, ToyActivation.Relu, residual: false));
        var sigmoid = Measure(20, ToyActivation.Sigmoid, residual: false);
        relu.WeightRatio.Should().BeGreaterThan(sigmoid.WeightRatio * 1e8, "measured 3.99e-1 against 2.90e-11");
        relu.WeightRatio.Should().BeInRange(0.1, 10, "measured 0.399");
        relu.BlockRatio.Should().BeInRange(0.1, 10, "measured 0.667");
        GradientFlowAnalysis.Diagnose(relu.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
    }

    // (c) Measured: residual twin of the sigmoid network: weight ratio 1.783e-1, block ratio 1.014.
    //     (The ReLU residual twin without normalisation grows towards the input instead: block ratio 18.73,
    //     weight ratio 7.588e-2; see PlainAndResidualReluTwinsWithoutNormalisation.)
    [Fact]
    public void ResidualTwinKeepsFirstToLastWithinOneOrderOfMagnitude()
    {
        var m = Report("residual-20 sigmoid", Measure(20, ToyActivation.Sigmoid, residual: true));
        m.WeightRatio.Should().BeInRange(0.1, 10, "measured 0.178");
        m.BlockRatio.Should().BeInRange(0.1, 10, "measured 1.014");
        GradientFlowAnalysis.Diagnose(m.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
    }

    [Fact]
    public void PlainAndResidualReluTwinsWithoutNormalisation()
    {
        var residual = Report("residual-20 relu", Measure(20, ToyActivation.Relu, residual: true));
        residual.BlockRatio.Should().BeInRange(5, 50, "measured 18.73: without normalisation x + F(x) doubles the variance per block");
        residual.WeightRatio.Should().BeInRange(0.02, 0.3, "measured 0.0759");
    }

    // (d) Measured: plain-56 ReLU with BatchNorm (training-mode batch statistics): first conv 3.265e2, last conv
    //     4.862e-1, weight ratio 6.716e2; block ratio 3.641e3. The gradient does not vanish: it GROWS towards the
    //     input. The residual twin: weight ratio 0.8952, block ratio 10.42.
    [Fact]
    public void PlainNetworkOf56LayersWithBatchNormDoesNotVanish()
    {
        var plain = Report("plain-56 relu BN", Measure(56, ToyActivation.Relu, residual: false, batchNorm: true));
        plain.WeightRatio.Should().BeInRange(200, 2e3, "measured 671.6");
        plain.BlockRatio.Should().BeInRange(1e3, 2e4, "measured 3.64e3");
        GradientFlowAnalysis.Diagnose(plain.Step).Verdict.Should().Be(GradientFlowVerdict.Exploding);

        var residual = Report("residual-56 relu BN", Measure(56, ToyActivation.Relu, residual: true, batchNorm: true));
        residual.BlockRatio.Should().BeInRange(3, 30, "measured 10.42");
        residual.WeightRatio.Should().BeInRange(0.3, 3, "measured 0.895");
        residual.BlockRatio.Should().BeLessThan(plain.BlockRatio / 100);
    }
}

internal sealed record SeedMeasurement(double FirstWeight, double LastWeight, double FirstBlock, double LastBlock, GradientFlowStep Step)
{
    public double WeightRatio => FirstWeight / LastWeight;

    public double BlockRatio => FirstBlock / LastBlock;
}
