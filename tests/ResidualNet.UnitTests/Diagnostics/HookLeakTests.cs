using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Hooks;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

public class HookLeakTests
{
    [Fact]
    public void HooksAndMonitorAttachedFor500StepsKeepTheLiveTensorCountFlat()
    {
        // A small model, so that 500 steps stay short on a busy two-core machine: every child is a monitored block.
        torch.manual_seed(1);
        var network = nn.Sequential(("fc1", nn.Linear(6, 8)), ("act1", nn.Tanh()), ("fc2", nn.Linear(8, 8)), ("act2", nn.ReLU()), ("fc3", nn.Linear(8, 3)));
        var optimizer = optim.SGD(network.parameters(), 0.01);
        var images = torch.randn(4, 6);
        var labels = torch.tensor(new long[] { 0, 1, 2, 1 });
        var baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        var monitor = GradientFlowMonitor.Attach(network, new GradientFlowMonitorOptions { TrackUpdateRatio = true, HistoryLimit = 50 });
        var block = (nn.Module<Tensor, Tensor>)network[2];
        var backwardHook = block.RegisterFullBackwardHook((_, gi, go) => gi! * 1);
        var forwardHook = block.RegisterForwardHook((nn.Module<Tensor, Tensor> _, Tensor _, Tensor output) => { });
        long afterWarmUp = 0;
        for (int step = 0; step < 500; step++)
        {
            using (var scope = torch.NewDisposeScope())
            {
                optimizer.zero_grad();
                var (logits, handle) = network.call(images).RegisterGradientHook(g => g * 1);
                nn.functional.cross_entropy(logits, labels).backward();
                monitor.RecordStep()!.Errors.Should().BeEmpty();
                optimizer.step();
                monitor.RecordUpdate();
                handle.Dispose();
            }

            if (step == 9)
            {
                afterWarmUp = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            }
        }

        var afterRun = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        monitor.Steps.Should().HaveCount(50);
        monitor.Dispose();
        backwardHook.Dispose();
        forwardHook.Dispose();
        backwardHook.LastError.Should().BeNull();

        afterRun.Should().Be(afterWarmUp, "no step may leave a tensor behind");
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().BeLessThanOrEqualTo(afterRun);
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().BeLessThanOrEqualTo(baseline + 2, "the monitor frees its snapshot and pending scalars when detached");
    }

    [Fact]
    public void AfterDetachingOutputsAndGradientsAreBitIdenticalToANeverHookedModel()
    {
        using var scope = torch.NewDisposeScope();
        var hooked = ToyNetworks.Build(8, ToyActivation.Relu, residual: true, batchNorm: true, seed: 8);
        var pristine = ToyNetworks.Build(8, ToyActivation.Relu, residual: true, batchNorm: true, seed: 8);
        var optHooked = optim.SGD(hooked.parameters(), 0.05, momentum: 0.9);
        var optPristine = optim.SGD(pristine.parameters(), 0.05, momentum: 0.9);
        var (images, labels) = ToyNetworks.Batch(seed: 3);

        var monitor = GradientFlowMonitor.Attach(hooked, new GradientFlowMonitorOptions { TrackUpdateRatio = true });
        var handles = GradientFlowMonitor.SelectBlocks(hooked).Select(b => b.Module.RegisterFullBackwardHook((_, _, _) => null)).ToList();
        for (int step = 0; step < 6; step++)
        {
            if (step == 3)
            {
                monitor.Detach();
                handles.ForEach(h => h.Dispose());
            }

            var (outHooked, gradsHooked) = TrainStep(hooked, optHooked, images, labels);
            var (outPristine, gradsPristine) = TrainStep(pristine, optPristine, images, labels);
            torch.equal(outHooked, outPristine).all().item<bool>().Should().BeTrue($"outputs at step {step}");
            for (int i = 0; i < gradsHooked.Count; i++)
            {
                torch.equal(gradsHooked[i], gradsPristine[i]).all().item<bool>().Should().BeTrue($"gradient {i} at step {step}");
            }

            if (step < 3)
            {
                monitor.RecordStep()!.Errors.Should().BeEmpty();
                monitor.RecordUpdate();
            }
        }

        monitor.Steps.Should().HaveCount(3);
    }

    private static (Tensor Output, List<Tensor> Gradients) TrainStep(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor images, Tensor labels)
    {
        optimizer.zero_grad();
        var output = model.call(images);
        nn.functional.cross_entropy(output, labels).backward();
        var grads = model.parameters().Select(p => p.grad!.clone()).ToList();
        optimizer.step();
        return (output.detach(), grads);
    }
}
