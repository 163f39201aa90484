using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using FluentAssertions;
using ResidualNet.Benchmarks;
using ResidualNet.Layers;
using ResidualNet.Performance;
using ResidualNet.TestSupport;
using ResidualNet.UnitTests.Performance;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Layers;

public class CheckpointTests(ITestOutputHelper output)
{
    private static Sequential Segment(int channels) => nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding: 1, bias: false),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding: 1),
        nn.BatchNorm2d(channels));

    private static (Tensor InputGrad, List<Tensor> ParameterGrads, List<Tensor> Buffers) Gradients(
        nn.Module<Tensor, Tensor> model, Tensor input)
    {
        var x = input.detach().requires_grad_(true);
        var y = model.call(x);
        (y * y).sum().backward();
        return (x.grad!, model.parameters().Select(p => p.grad!).ToList(), model.buffers().Select(b => b.clone()).ToList());
    }

    [Fact]
    public void Gradients_EqualThePlainOnes_InFloat64_AndBatchNormStatsUpdateOnce()
    {
        using var scope = NewDisposeScope();
        manual_seed(31);
        var plain = nn.Sequential(Segment(4), Segment(4)).to(ScalarType.Float64);
        var inner = nn.Sequential(Segment(4), Segment(4)).to(ScalarType.Float64);
        inner.load_state_dict(plain.state_dict());
        var checkpointed = nn.Sequential(new Checkpoint((Sequential)inner[0]), new Checkpoint((Sequential)inner[1]));
        var x = randn(3, 4, 8, 8, dtype: ScalarType.Float64);

        var expected = Gradients(plain, x);
        var actual = Gradients(checkpointed, x);

        actual.ParameterGrads.Should().HaveCount(expected.ParameterGrads.Count).And.HaveCount(14);
        TensorAssert.RelativeDifference(actual.InputGrad, expected.InputGrad).Should().BeLessThan(1e-12);
        foreach (var (a, e) in actual.ParameterGrads.Zip(expected.ParameterGrads))
        {
            TensorAssert.RelativeDifference(a, e).Should().BeLessThan(1e-12);
        }

        actual.Buffers.Should().HaveCount(12);
        foreach (var (a, e) in actual.Buffers.Zip(expected.Buffers))
        {
            a.to(ScalarType.Float64).allclose(e.to(ScalarType.Float64), rtol: 1e-12, atol: 0).Should().BeTrue(
                "the recomputation must not update the running statistics a second time");
        }
    }

    [Fact]
    public void GradientsAccumulate_OverTwoBackwardPasses()
    {
        using var scope = NewDisposeScope();
        manual_seed(32);
        var inner = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(ScalarType.Float64);
        var model = new Checkpoint(inner);
        var x = randn(4, 5, dtype: ScalarType.Float64);
        model.call(x).sum().backward();
        var once = inner.parameters().Select(p => p.grad!.clone()).ToList();
        model.call(x).sum().backward();
        foreach (var (p, g) in inner.parameters().Zip(once))
        {
            p.grad!.allclose(g * 2, rtol: 1e-12, atol: 0).Should().BeTrue();
        }
    }

    [Fact]
    public void Dropout_UsesTheSameMaskInTheRecomputation()
    {
        using var scope = NewDisposeScope();
        var plain = nn.Sequential(nn.Linear(6, 32), nn.Dropout(0.5), nn.Linear(32, 2)).to(ScalarType.Float64);
        var inner = nn.Sequential(nn.Linear(6, 32), nn.Dropout(0.5), nn.Linear(32, 2)).to(ScalarType.Float64);
        inner.load_state_dict(plain.state_dict());
        var checkpointed = new Checkpoint(inner);
        var x = randn(8, 6, dtype: ScalarType.Float64);

        manual_seed(33);
        var expected = Gradients(plain, x);
        manual_seed(33);
        var actual = Gradients(checkpointed, x);

        TensorAssert.RelativeDifference(actual.InputGrad, expected.InputGrad).Should().BeLessThan(1e-12);
        TensorAssert.RelativeDifference(actual.ParameterGrads[0], expected.ParameterGrads[0]).Should().BeLessThan(1e-12);
    }

    [Fact]
    public void WithoutGradients_TheModuleJustRuns()
    {
        using var scope = NewDisposeScope();
        var inner = nn.Linear(3, 3);
        var x = randn(2, 3);
        using var noGrad = no_grad();
        var y = Checkpointing.Run(inner, x);
        y.requires_grad.Should().BeFalse();
        y.allclose(inner.call(x)).Should().BeTrue();
    }

    /// <summary>Slow: 36 s measured on the shared 2-core machine under load (the work itself is small).</summary>
    [SkippableFact]
    [Trait("Category", "Slow")]
    public void PeakMemory_OfATrainingStep_IsMeasurablySmaller()
    {
        TestEnvironment.RequireLinux("glibc's mallopt and the kernel's peak resident memory");
        TestEnvironment.RequireProcMemory();

        // Make glibc hand large blocks straight back to the kernel, so that RSS follows live tensors.
        ProcessMemory.TryResetPeak().Should().BeTrue();
        _ = mallopt(MmapThreshold, 64 * 1024);

        using var scope = NewDisposeScope();
        manual_seed(34);
        const int blocks = 32, blocksPerSegment = 8;
        var layers = Enumerable.Range(0, blocks)
            .Select(_ => nn.Sequential(nn.Conv2d(8, 8, 3, padding: 1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding: 1), nn.ReLU()))
            .ToList();
        var plain = nn.Sequential(layers.Select((l, i) => ($"{i}", (nn.Module<Tensor, Tensor>)l)).ToArray());
        var segments = layers.Chunk(blocksPerSegment)
            .Select((chunk, i) => ($"{i}", (nn.Module<Tensor, Tensor>)new Checkpoint(nn.Sequential(chunk.Select((l, j) => ($"{j}", (nn.Module<Tensor, Tensor>)l)).ToArray()))))
            .ToArray();
        var checkpointed = nn.Sequential(segments);
        var x = randn(2, 8, 64, 64); // 256 KiB per activation; the plain step keeps about 2 per block.

        long Step(nn.Module<Tensor, Tensor> model) => ProcessMemory.MeasurePeakIncrease(() =>
        {
            using var stepScope = NewDisposeScope();
            model.call(x).square().mean().backward();
        })!.Value;

        Step(plain); // warm-up: one-time allocations (gradients, oneDNN caches) stay out of the comparison
        Step(checkpointed);
        plain.zero_grad();
        long checkpointPeak = Step(checkpointed);
        plain.zero_grad();
        long plainPeak = Step(plain);
        output.WriteLine($"peak increase: plain {plainPeak / 1048576.0:F1} MiB, checkpointed {checkpointPeak / 1048576.0:F1} MiB");

        plainPeak.Should().BeGreaterThan(12L << 20, "32 blocks of about 2 stored 256 KiB activations");
        checkpointPeak.Should().BeLessThan(plainPeak / 2);
    }

    private const int MmapThreshold = -3;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
