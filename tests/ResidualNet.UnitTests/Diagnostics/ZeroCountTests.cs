using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Performance;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>
/// The monitor's zero fraction (issue 16 item 2): counted with one vectorised comparison and sum instead of
/// count_nonzero, and still exact: every element is looked at, -0.0 counts as zero, NaN and infinities as non-zero,
/// and the memory layout (channels_last) does not change the count.
/// </summary>
public class ZeroCountTests
{
    /// <summary>A block that returns a fixed tensor whatever its input, so the counted values are known.</summary>
    private sealed class Fixed : nn.Module<Tensor, Tensor>
    {
        private readonly Tensor _value;

        public Fixed(Tensor value) : base("fixed")
        {
            _value = value.detach().clone();
            _value.DetachFromDisposeScope();
        }

        public override Tensor forward(Tensor input) => input.sum() * 0 + _value;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _value.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private static double RecordedZeroFraction(Tensor blockOutput)
    {
        using var block = new Fixed(blockOutput);
        using var network = nn.Sequential(("block", block));
        using var monitor = GradientFlowMonitor.Attach(network, new GradientFlowMonitorOptions { TrackBlockGradients = false, TrackParameters = false });
        using var scope = NewDisposeScope();
        var input = ones(1, requires_grad: true);
        network.call(input).sum().backward();
        return monitor.RecordStep()!.Blocks.Single().Activation!.ZeroFraction;
    }

    [Fact]
    public void NegativeZeroIsZero_NaNAndInfinityAreNot()
    {
        using var scope = NewDisposeScope();
        var values = tensor(new float[] { 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e-45f, -2f, 0f }).reshape(1, 2, 2, 2);

        RecordedZeroFraction(values).Should().Be(3.0 / 8.0, "0, -0 and 0 are the only zeros; the denormal 1e-45 is not");
    }

    [Fact]
    public void CountIsExactOnAReluOutput_InBothMemoryLayouts()
    {
        using var scope = NewDisposeScope();
        manual_seed(16);
        var relu = nn.functional.relu(randn(8, 16, 12, 12));
        long nonZero = count_nonzero(relu).item<long>();
        double expected = 1.0 - (double)(float)nonZero / relu.numel();

        RecordedZeroFraction(relu).Should().Be(expected);
        RecordedZeroFraction(relu.ToChannelsLast()).Should().Be(expected);
    }
}
