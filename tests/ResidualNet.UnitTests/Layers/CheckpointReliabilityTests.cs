using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.TestSupport;
using ResidualNet.UnitTests.Performance;
using TorchSharp;
using ResNet = ResidualNet.Models.ResNet;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Layers;

/// <summary>
/// Issue 14, defects 1-3: activation checkpointing never aborts the process, supports double backward, and
/// recomputes under the forward's training flags and random state. The abort triggers run in child processes.
/// </summary>
public class CheckpointReliabilityTests
{
    // ---- Defect 1: exceptions met during the recomputation reach the caller; the process lives. ----

    [Fact]
    public void Defect1_InPlaceChangeOfCheckpointedInput_ThrowsTheOriginalError_NoAbort()
    {
        var result = ChildProcess.Run<CheckpointReliabilityTests>(nameof(InPlaceChangeChild)).ShouldSucceed();
        string plain = result.ReportedText("plain.message");
        plain.Should().Contain("modified by an inplace operation");
        result.ReportedText("checked.type").Should().Be(result.ReportedText("plain.type"));
        result.ReportedText("checked.message").Should().Contain("modified by an inplace operation");
        result.ReportedText("unchecked.type").Should().Be("System.Runtime.InteropServices.ExternalException");
        result.ReportedText("unchecked.taken").Should().Contain("modified by an inplace operation");
    }

    [Fact]
    public void Defect1_NetworkDisposedBeforeBackward_ThrowsObjectDisposed_NoAbort()
    {
        var result = ChildProcess.Run<CheckpointReliabilityTests>(nameof(DisposedNetworkChild)).ShouldSucceed();
        result.ReportedText("type").Should().Be(typeof(ObjectDisposedException).FullName);
        result.ReportedText("survived").Should().Be("True");
    }

    [Fact]
    public void Defect1_HookThrowingDuringRecomputation_ThrowsTheHooksException_NoAbort()
    {
        var result = ChildProcess.Run<CheckpointReliabilityTests>(nameof(ThrowingHookChild)).ShouldSucceed();
        result.ReportedText("type").Should().Be(typeof(InvalidOperationException).FullName);
        result.ReportedText("message").Should().Be("hook failed in the recomputation");
        result.ReportedText("nextStep").Should().Be("ok");
    }

    internal static void InPlaceChangeChild()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var lin = nn.Linear(4, 3);
        Exception Plain()
        {
            var x = randn(2, 4).requires_grad_(true);
            var y = lin.call(x);
            using (no_grad())
            {
                x.add_(1);
            }

            try
            {
                y.sum().backward();
                return new InvalidOperationException("no error");
            }
            catch (Exception e)
            {
                return e;
            }
        }

        var plain = Plain();
        ChildProcess.Report("plain.type", plain.GetType().FullName);
        ChildProcess.Report("plain.message", plain.Message);

        var x1 = randn(2, 4).requires_grad_(true);
        var y1 = Checkpointing.Run(lin, x1);
        using (no_grad())
        {
            x1.add_(1);
        }

        try
        {
            y1.sum().BackwardChecked();
            ChildProcess.Report("checked.type", "none");
        }
        catch (Exception e)
        {
            ChildProcess.Report("checked.type", e.GetType().FullName);
            ChildProcess.Report("checked.message", e.Message);
        }

        var x2 = randn(2, 4).requires_grad_(true);
        var y2 = Checkpointing.Run(lin, x2);
        using (no_grad())
        {
            x2.add_(1);
        }

        try
        {
            y2.sum().backward();
            ChildProcess.Report("unchecked.type", "none");
        }
        catch (Exception e)
        {
            ChildProcess.Report("unchecked.type", e.GetType().FullName);
            ChildProcess.Report("unchecked.taken", AutogradErrors.TakeLastError()?.Message);
        }
    }

    internal static void DisposedNetworkChild()
    {
        using var scope = NewDisposeScope();
        var net = ModelRegistry.Default.Create("resnet20");
        net.Checkpointing = CheckpointGranularity.Block;
        net.train();
        var loss = net.call(randn(2, 3, 16, 16)).sum();
        net.Dispose();
        try
        {
            loss.BackwardChecked();
            ChildProcess.Report("type", "none");
        }
        catch (Exception e)
        {
            ChildProcess.Report("type", e.GetType().FullName);
            ChildProcess.Report("message", e.Message);
        }

        // The process goes on: another network trains normally.
        using var other = ModelRegistry.Default.Create("resnet20");
        other.Checkpointing = CheckpointGranularity.Block;
        other.call(randn(2, 3, 16, 16)).sum().BackwardChecked();
        ChildProcess.Report("survived", other.parameters().All(p => p.grad is not null));
    }

    internal static void ThrowingHookChild()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var inner = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2));
        int calls = 0;
        bool armed = true;
        inner.register_forward_hook((m, i, o) =>
        {
            if (armed && ++calls == 2)
            {
                throw new InvalidOperationException("hook failed in the recomputation");
            }

            return null!;
        });
        var model = new Checkpoint(inner);
        var x = randn(3, 4).requires_grad_(true);
        try
        {
            model.call(x).sum().BackwardChecked();
            ChildProcess.Report("type", "none");
        }
        catch (Exception e)
        {
            ChildProcess.Report("type", e.GetType().FullName);
            ChildProcess.Report("message", e.Message);
        }

        armed = false;
        model.call(x).sum().BackwardChecked();
        ChildProcess.Report("nextStep", x.grad is null ? "no gradient" : "ok");
    }

    // ---- Defect 2: double backward through checkpointing equals the plain network's. ----

    [Fact]
    public void Defect2_DoubleBackwardThroughCheckpointing_EqualsThePlainGradients()
    {
        using var scope = NewDisposeScope();
        var (plain, checkpointed) = Twins(CheckpointGranularity.Block);
        var x = randn(2, 3, 16, 16, dtype: ScalarType.Float64);

        Dictionary<string, Tensor> PenaltyGradients(ResNet net)
        {
            var input = x.detach().clone().requires_grad_(true);
            var output = net.call(input);
            var g = AutogradErrors.GradChecked(new[] { (output * output).sum() }, new[] { input }, createGraph: true)[0];
            (g * g).sum().BackwardChecked();
            return net.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        }

        var expected = PenaltyGradients(plain);
        var actual = PenaltyGradients(checkpointed);
        expected["conv1.weight"].norm().item<double>().Should().BeGreaterThan(0);
        foreach (var (name, e) in expected)
        {
            TensorAssert.RelativeDifference(actual[name], e).Should().BeLessThan(1e-9, name);
        }
    }

    // ---- Defect 3: the recomputation runs under the forward's flags and random state. ----

    [Fact]
    public void Defect3_EvalBetweenForwardAndBackward_RecomputesInTrainingMode()
    {
        using var scope = NewDisposeScope();
        var (plain, checkpointed) = Twins(CheckpointGranularity.Block);
        var x = randn(4, 3, 16, 16, dtype: ScalarType.Float64);

        Dictionary<string, Tensor> Gradients(ResNet net)
        {
            net.train();
            var loss = net.call(x).pow(2).sum();
            net.eval();
            loss.BackwardChecked();
            net.training.Should().BeFalse("the user's eval() stays in force after backward");
            net.modules().Should().OnlyContain(m => !m.training);
            return net.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        }

        var expected = Gradients(plain);
        var actual = Gradients(checkpointed);
        foreach (var (name, e) in expected)
        {
            TensorAssert.RelativeDifference(actual[name], e).Should().BeLessThan(1e-10, name);
        }

        foreach (var (a, e) in checkpointed.buffers().Zip(plain.buffers()))
        {
            a.to(ScalarType.Float64).allclose(e.to(ScalarType.Float64), rtol: 1e-12, atol: 0).Should().BeTrue();
        }
    }

    [Fact]
    public void Defect3_DropPath_RecomputesTheForwardsMasks_AndLeavesTheGeneratorAsWithoutCheckpointing()
    {
        using var scope = NewDisposeScope();
        var options = ModelRegistry.Default.GetOptions("resnet20");
        options = options with { Block = options.Block with { DropPathRate = 0.5 } };
        var (plain, checkpointed) = Twins(CheckpointGranularity.SquareRoot, options);
        var x = randn(4, 3, 16, 16, dtype: ScalarType.Float64);

        (Dictionary<string, Tensor> Grads, Tensor Rng) Gradients(ResNet net)
        {
            manual_seed(77);
            net.call(x).pow(2).sum().BackwardChecked();
            return (net.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!), get_rng_state());
        }

        var expected = Gradients(plain);
        var actual = Gradients(checkpointed);
        foreach (var (name, e) in expected.Grads)
        {
            TensorAssert.RelativeDifference(actual.Grads[name], e).Should().BeLessThan(1e-10, name);
        }

        actual.Rng.equal(expected.Rng).all().item<bool>().Should().BeTrue("the recomputation restores the caller's generator state");
    }

    private static (ResNet Plain, ResNet Checkpointed) Twins(CheckpointGranularity granularity, ResNetOptions? options = null)
    {
        options ??= ModelRegistry.Default.GetOptions("resnet20");
        manual_seed(14);
        var plain = new ResNet(options).to(ScalarType.Float64);
        var checkpointed = new ResNet(options).to(ScalarType.Float64);
        using (no_grad())
        {
            foreach (var (a, b) in checkpointed.state_dict().Values.Zip(plain.state_dict().Values))
            {
                a.copy_(b);
            }
        }

        checkpointed.Checkpointing = granularity;
        plain.train();
        checkpointed.train();
        return (plain, checkpointed);
    }
}
