using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Performance;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

public class ChannelsLastTests
{
    [Fact]
    public void TensorConversion_KeepsShapeAndValues_AndChangesStrides()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(2, 3, 5, 7);
        x.IsChannelsLast().Should().BeFalse();

        var y = x.ToChannelsLast();

        y.shape.Should().Equal(2, 3, 5, 7);
        y.stride().Should().Equal(105, 1, 21, 3);
        y.IsChannelsLast().Should().BeTrue();
        y.is_contiguous().Should().BeFalse();
        x.allclose(y, rtol: 0, atol: 0).Should().BeTrue();
    }

    [Fact]
    public void AlreadyChannelsLast_IsReturnedAsIs()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 4, 3, 3).ToChannelsLast();
        var y = x.ToChannelsLast();
        y.add_(1);
        x.allclose(y, rtol: 0, atol: 0).Should().BeTrue("no copy is made: both share the storage");
    }

    [Fact]
    public void NonFourDimensionalTensor_IsRejectedWithItsShape()
    {
        using var x = zeros(3, 4, 5);
        var act = () => x.ToChannelsLast();
        act.Should().Throw<ArgumentException>().WithParameterName("tensor").WithMessage("*3 dimensions*[3, 4, 5]*");
        x.IsChannelsLast().Should().BeFalse();
    }

    [Fact]
    public void ModelConversion_KeepsParameterObjects_AndOutputs()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = torchvision.models.resnet18(num_classes: 10);
        model.eval();
        var parameters = model.parameters().ToList();
        var x = randn(2, 3, 64, 64);
        Tensor expected;
        using (no_grad())
        {
            expected = model.call(x);
        }

        model.ToChannelsLast();

        model.parameters().Zip(parameters).Should().OnlyContain(pair => ReferenceEquals(pair.First, pair.Second));
        model.parameters().Where(p => p.dim() == 4).Should().OnlyContain(p => p.IsChannelsLast());
        model.parameters().Count(p => p.dim() == 4).Should().Be(20, "resnet18 has 20 convolutions");
        using (no_grad())
        {
            var actual = model.call(x.ToChannelsLast());
            TensorAssert.RelativeDifference(actual, expected).Should().BeLessThan(1e-5);
        }
    }

    [Fact]
    public void ModelConversion_StillTrains_WithTheOptimizerCreatedBefore()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2));
        var optimizer = optim.SGD(model.parameters(), 0.05);
        var x = randn(8, 3, 8, 8);
        var y = randn(8, 2);
        model.ToChannelsLast();
        var first = 0.0;
        var last = 0.0;
        for (int i = 0; i < 30; i++)
        {
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.call(x.ToChannelsLast()), y);
            loss.backward();
            optimizer.step();
            if (i == 0)
            {
                first = loss.item<float>();
            }

            last = loss.item<float>();
        }

        last.Should().BeLessThan(first * 0.8);
        model.parameters().First().IsChannelsLast().Should().BeTrue();
    }
}

internal static class TensorAssert
{
    /// <summary>max |a - b| / max |b|, computed in float64.</summary>
    public static double RelativeDifference(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64);
        var b = expected.to(ScalarType.Float64);
        return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
    }
}
