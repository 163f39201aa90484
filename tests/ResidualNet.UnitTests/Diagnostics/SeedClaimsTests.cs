using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>
/// The founding document's claims at initialisation, measured with the gradient-flow monitor on ResidualNet's own
/// networks (<see cref="SeedNetworks"/>: the CIFAR layout built with ResNetBuilder, 3x3 stem, three stages of three
/// blocks, 16/32/64 filters, option A shortcuts, or registry presets; library initialisation from seed 0; one fixed
/// batch of 16 random 3x32x32 images; cross-entropy; training mode). "Weight ratio" is ||dL/dW|| of the stem
/// convolution over that of the last block's last convolution; the block ratio is ||dL/dx|| at the first block's
/// input over that at the last block's input. Measured values are in the comments and in
/// docs/why-residual-connections-work.md (samples/GradientFlowExperiments prints the same numbers).
/// </summary>
public class SeedClaimsTests(ITestOutputHelper output)
{
    private static readonly NormFactory None = NormFactory.None;

    private SeedMeasurement Report(string label, SeedMeasurement m)
    {
        output.WriteLine($"{label}: first conv {m.FirstWeight:E3}, last conv {m.LastWeight:E3}, weight ratio {m.WeightRatio:E3}; " +
                         $"dL/dx first block {m.FirstBlock:E3}, last block {m.LastBlock:E3}, block ratio {m.BlockRatio:E3}");
        return m;
    }

    private SeedMeasurement Measure(string label, Func<ResidualNet.Models.ResNet> build)
    {
        using var network = build();
        return Report(label, SeedNetworks.Measure(network));
    }

    // (a) Measured: plain-20 sigmoid without normalisation (pre-activation plain blocks): first conv 9.734e-12,
    //     last conv 4.242e-1, weight ratio 2.295e-11; block ratio 4.999e-9.
    [Fact]
    public void PlainSigmoidNetworkOf20LayersVanishes()
    {
        var m = Measure("plain-20 sigmoid", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, residual: false, None));
        m.WeightRatio.Should().BeLessThan(1e-9, "measured 2.3e-11");
        m.BlockRatio.Should().BeLessThan(1e-7, "measured 5.0e-9");
        GradientFlowAnalysis.Diagnose(m.Step).Verdict.Should().Be(GradientFlowVerdict.Vanishing);
    }

    // (b) Measured: ReLU plain-20 weight ratio 1.043e-1, block ratio 3.115e-1, against sigmoid's 2.295e-11.
    [Fact]
    public void PlainReluNetworkOfTheSameDepthVanishesFarLess()
    {
        var relu = Measure("plain-20 relu", () => SeedNetworks.Cifar(20, ActivationFactory.ReLU, residual: false, None));
        var sigmoid = Measure("plain-20 sigmoid", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, residual: false, None));
        relu.WeightRatio.Should().BeGreaterThan(sigmoid.WeightRatio * 1e8, "measured 1.04e-1 against 2.30e-11");
        relu.WeightRatio.Should().BeInRange(0.03, 0.3, "measured 0.104");
        relu.BlockRatio.Should().BeInRange(0.1, 1, "measured 0.312");
        GradientFlowAnalysis.Diagnose(relu.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
    }

    // (c) Measured, one stage of 9 pre-activation blocks (x + F(x) everywhere, the seed's formula): residual twin of
    //     the sigmoid network: block ratio 1.024 (weight ratio 4.344e-2); the plain one-stage twin: block ratio
    //     1.121e-8 (weight ratio 3.842e-11), it vanishes like (a).
    //     In the three-stage CIFAR layout the two downsampling blocks route their shortcut through the
    //     pre-activation act(x) (as He et al. 2016 do) and drop half the channels' gradient (option A), so there
    //     the ratio is 2.479e-2 (weight ratio 1.289e-3): 1.6 orders of magnitude, still 10^6.7 above the plain twin.
    [Fact]
    public void ResidualTwinKeepsFirstToLastWithinOneOrderOfMagnitude()
    {
        var oneStage = Measure("residual-20 sigmoid, one stage", () => SeedNetworks.SingleStage(9, ActivationFactory.Sigmoid, residual: true, None));
        var plainOneStage = Measure("plain-20 sigmoid, one stage", () => SeedNetworks.SingleStage(9, ActivationFactory.Sigmoid, residual: false, None));
        oneStage.BlockRatio.Should().BeInRange(0.5, 2, "measured 1.024");
        oneStage.WeightRatio.Should().BeInRange(0.01, 0.2, "measured 0.0434");
        GradientFlowAnalysis.Diagnose(oneStage.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
        plainOneStage.BlockRatio.Should().BeLessThan(1e-6, "measured 1.12e-8");

        var cifar = Measure("residual-20 sigmoid, CIFAR layout", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, residual: true, None));
        cifar.BlockRatio.Should().BeInRange(1e-2, 5e-2, "measured 2.48e-2");
        cifar.WeightRatio.Should().BeInRange(5e-4, 5e-3, "measured 1.29e-3");
        GradientFlowAnalysis.Diagnose(cifar.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
    }

    // The original (post-activation) block puts the sigmoid on the identity path, act(x + F(x)): it vanishes too.
    // Measured: weight ratio 6.433e-8, block ratio 4.657e-6.
    [Fact]
    public void PostActivationResidualSigmoidNetworkVanishes()
    {
        var m = Measure("residual-20 sigmoid, post-activation", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, residual: true, None, preActivation: false));
        m.BlockRatio.Should().BeInRange(1e-6, 2e-5, "measured 4.66e-6");
        m.WeightRatio.Should().BeInRange(1e-8, 3e-7, "measured 6.43e-8");
        GradientFlowAnalysis.Diagnose(m.Step).Verdict.Should().Be(GradientFlowVerdict.Vanishing);
    }

    // Without normalisation the ReLU residual network grows towards the input (x + F(x) adds variance per block):
    // measured block ratio 6.074, weight ratio 1.132e-1.
    [Fact]
    public void ResidualReluTwinWithoutNormalisationGrowsTowardsTheInput()
    {
        var m = Measure("residual-20 relu", () => SeedNetworks.Cifar(20, ActivationFactory.ReLU, residual: true, None));
        m.BlockRatio.Should().BeInRange(3, 12, "measured 6.07");
        m.WeightRatio.Should().BeInRange(0.05, 0.25, "measured 0.113");
    }

    // (d) Measured: plain_resnet56 (registry preset: ReLU, BatchNorm with batch statistics, option A): first conv
    //     1.488e3, last conv 2.547e-1, weight ratio 5.842e3; block ratio 1.063e4. The gradient does not vanish:
    //     it GROWS towards the input. resnet56: weight ratio 1.728e1, block ratio 3.730e1.
    [Fact]
    public void PlainResNet56WithBatchNormDoesNotVanish()
    {
        var plain = Measure("plain_resnet56", () => SeedNetworks.Registry("plain_resnet56"));
        plain.WeightRatio.Should().BeInRange(2e3, 2e4, "measured 5.84e3");
        plain.BlockRatio.Should().BeInRange(3e3, 3e4, "measured 1.06e4");
        GradientFlowAnalysis.Diagnose(plain.Step).Verdict.Should().Be(GradientFlowVerdict.Exploding);

        var residual = Measure("resnet56", () => SeedNetworks.Registry("resnet56"));
        residual.BlockRatio.Should().BeInRange(15, 80, "measured 37.3");
        residual.WeightRatio.Should().BeInRange(7, 40, "measured 17.3");
        GradientFlowAnalysis.Diagnose(residual.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
        residual.BlockRatio.Should().BeLessThan(plain.BlockRatio / 100);
    }

    // With BatchNorm even the sigmoid plain network does not vanish: measured block ratio 1.563e-1 (plain-56,
    // post-activation blocks) and 8.014e-2 (its residual twin).
    [Fact]
    public void PlainSigmoidNetworkOf56LayersWithBatchNormDoesNotVanish()
    {
        var plain = Measure("plain-56 sigmoid BN", () => SeedNetworks.Cifar(56, ActivationFactory.Sigmoid, residual: false, NormFactory.BatchNorm, preActivation: false));
        plain.BlockRatio.Should().BeInRange(0.05, 0.5, "measured 0.156");
        GradientFlowAnalysis.Diagnose(plain.Step).Verdict.Should().Be(GradientFlowVerdict.Healthy);
    }

    // The identity term on library blocks (one stage of 9 pre-activation blocks, no normalisation, sigmoid): from
    // block 0 to the output the residual stack's J'v stays near v (measured deviation 0.2546, gain 1.029); the
    // plain twin's gain is 1.131e-9 (deviation 1.000).
    [Fact]
    public void IdentityTermOfLibraryBlocks()
    {
        using var residualNet = SeedNetworks.SingleStage(9, ActivationFactory.Sigmoid, residual: true, None);
        using var plainNet = SeedNetworks.SingleStage(9, ActivationFactory.Sigmoid, residual: false, None);
        var residual = SeedNetworks.IdentityTermAtInit(residualNet).Rows;
        var plain = SeedNetworks.IdentityTermAtInit(plainNet).Rows;
        output.WriteLine($"residual l=0: deviation {residual[0].MeanRelativeDeviation:E3}, gain {residual[0].MeanGain:E3}; plain l=0: deviation {plain[0].MeanRelativeDeviation:E3}, gain {plain[0].MeanGain:E3}");

        residual[0].MeanRelativeDeviation.Should().BeInRange(0.15, 0.4, "measured 0.2546");
        residual[0].MeanGain.Should().BeInRange(0.9, 1.2, "measured 1.029");
        plain[0].MeanRelativeDeviation.Should().BeApproximately(1.0, 0.01, "measured 1.000");
        plain[0].MeanGain.Should().BeLessThan(1e-7, "measured 1.13e-9");
    }
}
