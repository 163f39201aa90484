using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Performance;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

public class LowPrecisionTests(ITestOutputHelper output)
{
    [Fact]
    public void FastInference_AgreesWithFp32_OnTopOneAndWithinTolerance()
    {
        using var scope = NewDisposeScope();
        manual_seed(21);
        using var reference = torchvision.models.resnet18(num_classes: 10);
        using var fast = torchvision.models.resnet18(num_classes: 10);
        BatchNormFoldingTests.RandomizeBatchNorms(reference);
        fast.load_state_dict(reference.state_dict());
        reference.eval();
        var x = randn(16, 3, 64, 64);

        fast.OptimizeForInference(InferenceOptions.Fast);

        fast.parameters().Should().OnlyContain(p => p.dtype == ScalarType.BFloat16);
        using var noGrad = no_grad();
        var expected = reference.call(x);
        var actual = fast.call(InferenceOptimizer.PrepareInput(x));
        actual.dtype.Should().Be(ScalarType.BFloat16);
        var agreement = (actual.argmax(1) == expected.argmax(1)).to(ScalarType.Float32).mean().item<float>();
        double relative = TensorAssert.RelativeDifference(actual, expected);
        output.WriteLine($"top-1 agreement {agreement:P0}, max |bf16 - fp32| / max |fp32| = {relative:E2}");
        relative.Should().BeLessThan(0.05, "bf16 keeps about 3 significant digits");
        agreement.Should().BeGreaterThanOrEqualTo(14f / 16f);
    }

    [Fact]
    public void Fp32Options_OnlyFoldAndReorder_AndMatchClosely()
    {
        using var scope = NewDisposeScope();
        manual_seed(22);
        using var reference = torchvision.models.resnet18(num_classes: 10);
        BatchNormFoldingTests.RandomizeBatchNorms(reference);
        reference.eval();
        var x = randn(2, 3, 64, 64);
        using var noGrad = no_grad();
        var expected = reference.call(x);
        var options = InferenceOptions.Fast with { DType = ScalarType.Float32 };

        reference.OptimizeForInference(options);

        var input = InferenceOptimizer.PrepareInput(x, options);
        input.IsChannelsLast().Should().BeTrue();
        TensorAssert.RelativeDifference(reference.call(input), expected).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void CpuFlagDetection_MatchesProcCpuinfo()
    {
        // Where /proc/cpuinfo does not exist the documented answer is false (unknown, not negative).
        string flags = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? string.Empty
            : string.Empty;
        bool listed = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(f => f is "avx512_bf16" or "amx_bf16");
        LowPrecision.IsBFloat16Accelerated().Should().Be(listed, $"the first flags line of /proc/cpuinfo lists a bf16 flag: {listed}");
    }

    [Fact]
    public void NonFloatingDType_IsRejected()
    {
        using var model = nn.Linear(2, 2);
        var act = () => model.OptimizeForInference(new InferenceOptions { DType = ScalarType.Int32 });
        act.Should().Throw<System.ArgumentOutOfRangeException>().WithParameterName("DType").WithMessage("*Int32*");
    }
}
