using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

public class GradientFlowMonitorTests
{
    [Fact]
    public void FindsResidualBlocksAndFallsBackToChildren()
    {
        using var scope = torch.NewDisposeScope();
        var toy = ToyNetworks.Build(8, ToyActivation.Relu, residual: true);
        GradientFlowMonitor.SelectBlocks(toy).Select(b => b.Name).Should().Equal("blocks.block0", "blocks.block1", "blocks.block2");

        var plain = nn.Sequential(("a", nn.Linear(2, 3)), ("act", nn.ReLU()), ("b", nn.Linear(3, 1)));
        GradientFlowMonitor.SelectBlocks(plain).Select(b => b.Name).Should().Equal("a", "act", "b");
        GradientFlowMonitor.SelectBlocks(plain, (name, _) => name != "act").Select(b => b.Name).Should().Equal("a", "b");
    }

    [Fact]
    public void RecordsWhatAutogradAndDirectComputationGive()
    {
        using var scope = torch.NewDisposeScope();
        var network = ToyNetworks.Build(8, ToyActivation.Tanh, residual: true, seed: 4);
        var (images, labels) = ToyNetworks.Batch(seed: 5);
        using var monitor = GradientFlowMonitor.Attach(network);

        var blocks = GradientFlowMonitor.SelectBlocks(network).Select(b => b.Module).ToList();
        var loss = nn.functional.cross_entropy(network.call(images), labels);
        loss.backward();
        var step = monitor.RecordStep()!;

        // Reference: same network, no monitor, gradients w.r.t. every block input and output through autograd.grad.
        var inputs = new List<Tensor>();
        var outputs = new List<Tensor>();
        var reference = ToyNetworks.Build(8, ToyActivation.Tanh, residual: true, seed: 4);
        var refBlocks = GradientFlowMonitor.SelectBlocks(reference).Select(b => b.Module).ToList();
        // (Unrolled by hand: Sequential disposes its intermediates, so hooks could not keep them for autograd.grad.)
        var x = reference.Stem.call(images);
        foreach (var block in refBlocks)
        {
            inputs.Add(x);
            x = block.call(x);
            outputs.Add(x);
        }

        var refLogits = reference.Classifier.call(ToyNetworks.Activate(x, reference.Activation).mean(new long[] { 2, 3 }));
        var refLoss = nn.functional.cross_entropy(refLogits, labels);
        refLoss.item<float>().Should().Be(loss.item<float>(), "the unrolled reference is the same network");
        var grads = torch.autograd.grad(new[] { refLoss }, inputs.Concat(outputs).ToList(), retain_graph: true);

        for (int b = 0; b < blocks.Count; b++)
        {
            step.Blocks[b].InputGradientNorm.Should().BeApproximately(grads[b].norm().item<float>(), 1e-6 * grads[b].norm().item<float>());
            step.Blocks[b].OutputGradientNorm.Should().BeApproximately(grads[blocks.Count + b].norm().item<float>(), 1e-6 * grads[blocks.Count + b].norm().item<float>());
            var o = outputs[b].detach();
            step.Blocks[b].Activation!.Mean.Should().BeApproximately(o.mean().item<float>(), 1e-6);
            step.Blocks[b].Activation!.Std.Should().BeApproximately(o.std().item<float>(), 1e-5 * o.std().item<float>());
            step.Blocks[b].Activation!.ZeroFraction.Should().Be(o.eq(0).to_type(ScalarType.Float64).mean().item<double>());
        }

        var parameters = network.named_parameters().ToList();
        step.Parameters.Should().HaveCount(parameters.Count);
        for (int i = 0; i < parameters.Count; i++)
        {
            using var g = parameters[i].parameter.grad!;
            var stats = step.Parameters[i];
            stats.Name.Should().Be(parameters[i].name);
            stats.L2Norm.Should().Be(linalg.vector_norm(g).item<float>());
            stats.MeanAbs.Should().Be(g.abs().mean().item<float>());
            stats.MaxAbs.Should().Be(g.abs().max().item<float>());
            stats.NonFiniteCount.Should().Be(0);
            stats.IsWeight.Should().Be(parameters[i].parameter.dim() >= 2);
        }
    }

    [Fact]
    public void CountsNonFiniteGradientsAndDiagnosesThem()
    {
        using var scope = torch.NewDisposeScope();
        var layer = nn.Linear(3, 2);
        using var monitor = GradientFlowMonitor.Attach(layer);
        var x = torch.tensor(new float[] { 1, float.NaN, 2, 3, 4, float.PositiveInfinity }).reshape(2, 3);
        layer.call(x).sum().backward();
        var step = monitor.RecordStep()!;
        step.Parameters[0].Name.Should().Be("weight");
        step.Parameters[0].NonFiniteCount.Should().Be(4, "column 1 gets NaN and column 2 gets Inf in both output rows");
        step.Parameters[1].NonFiniteCount.Should().Be(0);
        GradientFlowAnalysis.Diagnose(step).Verdict.Should().Be(GradientFlowVerdict.NonFinite);
    }

    [Fact]
    public void RecordsEveryNthStepOnly()
    {
        using var scope = torch.NewDisposeScope();
        var network = ToyNetworks.Build(6, ToyActivation.Relu, residual: true);
        var (images, labels) = ToyNetworks.Batch();
        using var monitor = GradientFlowMonitor.Attach(network, new GradientFlowMonitorOptions { Interval = 3 });
        var recorded = new List<int>();
        for (int i = 0; i < 7; i++)
        {
            using var stepScope = torch.NewDisposeScope();
            network.zero_grad();
            nn.functional.cross_entropy(network.call(images), labels).backward();
            if (monitor.RecordStep() is { } step)
            {
                recorded.Add(step.Step);
            }
        }

        recorded.Should().Equal(0, 3, 6);
        monitor.Steps.Select(s => s.Step).Should().Equal(0, 3, 6);
        monitor.Steps.Should().OnlyContain(s => s.Blocks.All(b => b.OutputGradientNorm > 0));
    }

    [Fact]
    public void UpdateToWeightRatioMatchesTheOptimizerStep()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(2);
        var layer = nn.Linear(4, 3);
        var optimizer = optim.SGD(layer.parameters(), 0.1);
        using var monitor = GradientFlowMonitor.Attach(layer, new GradientFlowMonitorOptions { TrackUpdateRatio = true });
        var before = layer.weight!.detach().clone();
        layer.call(torch.ones(2, 4)).sum().backward();
        monitor.RecordStep();
        optimizer.step();
        var step = monitor.RecordUpdate()!;
        var expected = ((layer.weight!.detach() - before).norm() / before.norm()).item<float>();
        step.Parameters[0].UpdateToWeightRatio.Should().BeApproximately(expected, 1e-6);
        monitor.Steps[^1].Parameters[0].UpdateToWeightRatio.Should().Be(step.Parameters[0].UpdateToWeightRatio);
    }

    [Fact]
    public void InvalidOptionsNameTheOptionAndValue()
    {
        using var layer = nn.Linear(2, 2);
        var act = () => GradientFlowMonitor.Attach(layer, new GradientFlowMonitorOptions { Interval = 0 });
        act.Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("Interval").And.Contain("0");
        var update = () => GradientFlowMonitor.Attach(layer).RecordUpdate();
        update.Should().Throw<InvalidOperationException>().Which.Message.Should().Contain("TrackUpdateRatio");
    }
}
