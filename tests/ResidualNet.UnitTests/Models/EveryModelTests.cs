using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Models;

/// <summary>Every registered model: forward shape, and one backward step reaching every parameter with a finite gradient.</summary>
public class EveryModelTests
{
    /// <summary>Networks too large or too deep for the default (fast) run; their plain twins too.</summary>
    private static readonly HashSet<string> HeavyResidual =
    [
        "resnet101", "resnet152", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
        "resnet1202", "preact_resnet101", "preact_resnet152", "preact_resnet1001",
    ];

    /// <summary>
    /// Measured: in float32 the first convolution's gradient of these 1,000+-layer plain twins is not finite
    /// at initialisation (gradients explode through a deep plain stack with batch normalisation), so their
    /// check runs in float64, where the same gradients are finite. Their residual versions are checked in float32.
    /// </summary>
    private static readonly HashSet<string> NeedFloat64 = ["plain_resnet1202", "plain_preact_resnet1001"];

    public static TheoryData<string> LightModels() => new(Names(heavy: false));

    public static TheoryData<string> HeavyModels() => new(Names(heavy: true));

    [Theory]
    [MemberData(nameof(LightModels))]
    public void ForwardShapeAndFiniteGradientForEveryParameter(string name) => ForwardBackward(name);

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(HeavyModels))]
    public void ForwardShapeAndFiniteGradientForEveryParameter_Heavy(string name) => ForwardBackward(name);

    [Fact]
    public void TheLightAndHeavyListsCoverTheWholeRegistry()
    {
        var all = ModelTestUtil.Presets.List();
        all.Should().HaveCount(48, "24 presets and their 24 plain twins");
        Names(heavy: false).Concat(Names(heavy: true)).Should().BeEquivalentTo(all);
        Names(heavy: true).Should().HaveCount(2 * HeavyResidual.Count);
    }

    private static List<string> Names(bool heavy)
    {
        var data = new List<string>();
        foreach (var name in ModelTestUtil.Presets.List())
        {
            string residual = name.StartsWith(ModelRegistry.PlainPrefix, System.StringComparison.Ordinal)
                ? name[ModelRegistry.PlainPrefix.Length..]
                : name;
            if (HeavyResidual.Contains(residual) == heavy)
            {
                data.Add(name);
            }
        }

        return data;
    }

    private static void ForwardBackward(string name)
    {
        torch.manual_seed(7);
        using var model = ModelTestUtil.Presets.Create(name);
        var options = model.Options;
        int size = ModelTestUtil.InputSize(options);
        using var scope = torch.NewDisposeScope();
        model.train();
        var dtype = NeedFloat64.Contains(name) ? ScalarType.Float64 : ScalarType.Float32;
        model.to(dtype);
        var x = torch.randn(2, options.InputChannels, size, size, dtype: dtype);
        var y = model.call(x);
        y.shape.Should().Equal(2, options.NumClasses);

        var loss = (y * torch.randn_like(y)).sum();
        loss.backward();
        foreach (var (parameterName, parameter) in model.named_parameters())
        {
            var grad = parameter.grad;
            grad.Should().NotBeNull("{0} of {1} must receive a gradient", parameterName, name);
            torch.isfinite(grad!).all().item<bool>().Should().BeTrue("the gradient of {0} in {1} must be finite", parameterName, name);
        }
    }
}
