using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Models;
using ResidualNet.TestSupport;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>Issue 14, defects 9 (monitor) and 10: disposed models and a step without backward are reported.</summary>
public class MonitorReliabilityTests
{
    [Fact]
    public void Defect9_AttachToADisposedModel_AndRecordStepAfterDisposal_AreObjectDisposed()
    {
        var net = ModelRegistry.Default.Create("resnet20");
        using var monitor = GradientFlowMonitor.Attach(net);
        net.Dispose();
        var record = () => monitor.RecordStep();
        record.Should().Throw<ObjectDisposedException>().WithMessage("*ResNet*disposed*");
        var attach = () => GradientFlowMonitor.Attach(net);
        attach.Should().Throw<ObjectDisposedException>().WithMessage("*disposed ResNet*");
        monitor.Dispose();
        record.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void Defect10_RecordStepBeforeBackward_IsReported_AndTheStepsStayAttributedToTheirGraphs()
    {
        using var scope = NewDisposeScope();
        manual_seed(10);
        using var net = ModelRegistry.Default.Create("resnet20");
        using var monitor = GradientFlowMonitor.Attach(net);
        var x = randn(2, 3, 8, 8);

        var loss = net.call(x).sum();
        var early = () => monitor.RecordStep();
        early.Should().Throw<InvalidOperationException>().WithMessage("*before backward()*");
        loss.backward();
        var step0 = monitor.RecordStep()!;
        step0.Step.Should().Be(0);

        net.zero_grad();
        net.call(x).sum().backward();
        var step1 = monitor.RecordStep()!;
        step1.Blocks.Select(b => b.OutputGradientNorm).Should().Equal(step0.Blocks.Select(b => b.OutputGradientNorm),
            "the same input and weights give the same block gradients in each correctly recorded step");
    }
}
