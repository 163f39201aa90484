using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Issue 16, item 2: the per-block activation statistics of <see cref="Diagnostics.GradientFlowMonitor"/> on the block
/// outputs of CIFAR resnet56 at batch 128 (after ReLU). Baseline: mean, L2 norm and <c>count_nonzero</c> (the monitor
/// before the change); measured: mean, L2 norm and <c>ne(0).sum()</c> (the monitor now; the same exact count). Each
/// reads its three scalars back to the host, as the monitor does once per step.
/// </summary>
public class ActivationStatisticsBenchmarks
{
    private Tensor? _output;

    /// <summary>The block output's shape: the outputs of resnet56's three stages at batch 128.</summary>
    [Params("128x16x32x32", "128x32x16x16", "128x64x8x8")]
    public string Shape { get; set; } = "128x16x32x32";

    /// <summary>A ReLU output of <see cref="Shape"/> (about half zeros).</summary>
    [GlobalSetup]
    public void Setup()
    {
        manual_seed(3);
        var dims = System.Array.ConvertAll(Shape.Split('x'), long.Parse);
        using var values = randn(dims);
        _output = nn.functional.relu(values).DetachFromDisposeScope();
    }

    /// <summary>mean, norm, count_nonzero (baseline).</summary>
    [Benchmark(Baseline = true)]
    public float CountNonzero() => Read(x => count_nonzero(x));

    /// <summary>mean, norm, ne(0).sum().</summary>
    [Benchmark]
    public float NotEqualZeroSum() => Read(x => x.ne(0).sum());

    /// <summary>Releases the tensor.</summary>
    [GlobalCleanup]
    public void Cleanup() => _output?.Dispose();

    private float Read(System.Func<Tensor, Tensor> countNonZero)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = stack(new[] { _output!.mean(), linalg.vector_norm(_output!), countNonZero(_output!).to_type(ScalarType.Float32) }).cpu().data<float>().ToArray();
        return values[2];
    }
}
