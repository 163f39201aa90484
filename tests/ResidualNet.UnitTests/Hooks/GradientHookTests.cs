using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Hooks;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Hooks;

public class GradientHookTests
{
    [Fact]
    public void TensorHookSeesTheGradientThatAutogradComputes()
    {
        torch.manual_seed(3);
        using var scope = torch.NewDisposeScope();
        var first = nn.Linear(5, 7);
        var second = nn.Linear(7, 3);
        var x = torch.randn(4, 5);
        var hidden = first.call(x).tanh();

        Tensor? seen = null;
        var (hooked, handle) = hidden.RegisterGradientHook(g =>
        {
            seen = g.detach().clone();
            return null;
        });
        var loss = second.call(hooked).pow(2).sum();
        var expected = torch.autograd.grad(new[] { loss }, new[] { hidden }, retain_graph: true)[0];
        loss.backward();

        seen.Should().NotBeNull();
        torch.equal(seen!, expected).all().item<bool>().Should().BeTrue("the hook must see exactly dL/d(hidden)");
        handle.LastError.Should().BeNull();
        handle.Dispose();
    }

    [Fact]
    public void DoublingHookDoublesEveryParameterGradientUpstream()
    {
        using var scope = torch.NewDisposeScope();
        var (first, second, x) = TwoLayers(seed: 11);
        var reference = Gradients(first, second, x, hook: null);
        var doubled = Gradients(first, second, x, hook: g => g * 2);

        // first (upstream of the hook) doubles; second (downstream) is untouched.
        doubled["first.weight"].Should().BeEquivalentTo(reference["first.weight"].Select(v => v * 2));
        doubled["first.bias"].Should().BeEquivalentTo(reference["first.bias"].Select(v => v * 2));
        doubled["second.weight"].Should().Equal(reference["second.weight"]);
        reference["first.weight"].Should().Contain(v => v != 0, "a test of doubling zeros would prove nothing");
    }

    [Fact]
    public void DisposedHookPassesTheGradientThroughUnchanged()
    {
        using var scope = torch.NewDisposeScope();
        var (first, second, x) = TwoLayers(seed: 12);
        var reference = Gradients(first, second, x, hook: null);

        first.zero_grad();
        second.zero_grad();
        int calls = 0;
        var (hooked, handle) = first.call(x).relu().RegisterGradientHook(g => { calls++; return g * 3; });
        handle.Dispose();
        handle.Dispose(); // idempotent
        handle.IsRemoved.Should().BeTrue();
        second.call(hooked).pow(2).sum().backward();

        calls.Should().Be(0);
        Read(first.weight!).Should().Equal(reference["first.weight"]);
    }

    [Fact]
    public void ExceptionInAHookIsReportedAndTheGradientPassesUnchanged()
    {
        using var scope = torch.NewDisposeScope();
        var (first, second, x) = TwoLayers(seed: 13);
        var reference = Gradients(first, second, x, hook: null);

        first.zero_grad();
        var (hooked, handle) = first.call(x).relu().RegisterGradientHook(_ => throw new InvalidOperationException("boom"));
        second.call(hooked).pow(2).sum().backward();

        handle.LastError.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("boom");
        Read(first.weight!).Should().Equal(reference["first.weight"]);
    }

    [Fact]
    public void ReplacementOfTheWrongShapeIsRejected()
    {
        using var scope = torch.NewDisposeScope();
        var (first, second, x) = TwoLayers(seed: 14);
        var reference = Gradients(first, second, x, hook: null);
        first.zero_grad();
        var (hooked, handle) = first.call(x).relu().RegisterGradientHook(g => g[0]);
        second.call(hooked).pow(2).sum().backward();

        handle.LastError.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("shape [6]");
        Read(first.weight!).Should().Equal(reference["first.weight"]);
    }

    [Fact]
    public void HookingATensorWithoutGradIsRefusedWithItsShape()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(2, 3);
        var act = () => x.RegisterGradientHook(g => null);
        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain("[2, 3]").And.Contain("requires_grad = false");
    }

    [Fact]
    public void IdentityFunctionPassesNumericalGradientCheckInFloat64()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(21);
        var w = torch.randn(new long[] { 4, 4 }, dtype: float64);
        var x = torch.randn(new long[] { 3, 4 }, dtype: float64);

        // f(x) = sum(sin(tap(x W)) * tap(x)): with identity taps, autograd's gradient must be f's true gradient.
        Func<Tensor, Tensor> f = input =>
        {
            var (a, _) = input.matmul(w).RegisterGradientHook(_ => null);
            var (b, _) = input.RegisterGradientHook(_ => null);
            return (a.sin() * b).sum();
        };
        var analytic = AnalyticGradient(f, x);
        var numeric = NumericGradient(x, f);
        (analytic - numeric).abs().max().item<double>().Should().BeLessThan(1e-7);
        analytic.abs().max().item<double>().Should().BeGreaterThan(0.1);
    }

    [Fact]
    public void RescalingHookScalesExactlyItsBranchInFloat64()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(22);
        var w = torch.randn(new long[] { 4, 4 }, dtype: float64);
        var x = torch.randn(new long[] { 3, 4 }, dtype: float64);
        const double s = 0.5;

        // g(x) = sum(sin(tap_s(x W)) * x), where tap_s halves the gradient of the x W branch. Its gradient is
        // s * d/dx sum(sin(xW) * x0) + d/dx sum(sin(x0 W) * x) at x0 = x: both parts by finite differences.
        Func<Tensor, Tensor> g = input =>
        {
            var (a, _) = input.matmul(w).RegisterGradientHook(grad => grad * s);
            return (a.sin() * input).sum();
        };
        var analytic = AnalyticGradient(g, x);
        var branch = NumericGradient(x, input => (input.matmul(w).sin() * x).sum());
        var direct = NumericGradient(x, input => (x.matmul(w).sin() * input).sum());
        var expected = s * branch + direct;
        (analytic - expected).abs().max().item<double>().Should().BeLessThan(1e-7);
        (analytic - (branch + direct)).abs().max().item<double>().Should().BeGreaterThan(1e-3, "the rescaling must show");
    }

    private static Tensor AnalyticGradient(Func<Tensor, Tensor> f, Tensor x)
    {
        var input = x.detach().clone().requires_grad_(true);
        var y = f(input);
        return torch.autograd.grad(new[] { y }, new[] { input })[0];
    }

    private static Tensor NumericGradient(Tensor x, Func<Tensor, Tensor> f)
    {
        const double eps = 1e-6;
        using var noGrad = torch.no_grad();
        var flat = x.detach().clone().reshape(-1);
        var grad = torch.zeros_like(flat);
        for (int i = 0; i < flat.shape[0]; i++)
        {
            var original = flat[i].item<double>();
            flat[i] = original + eps;
            var plus = Evaluate(f, flat.reshape(x.shape));
            flat[i] = original - eps;
            var minus = Evaluate(f, flat.reshape(x.shape));
            flat[i] = original;
            grad[i] = (plus - minus) / (2 * eps);
        }

        return grad.reshape(x.shape);
    }

    /// <summary>f at x, in grad mode: f hooks tensors, which needs it.</summary>
    private static double Evaluate(Func<Tensor, Tensor> f, Tensor x)
    {
        using var enable = torch.enable_grad();
        return f(x.detach().clone().requires_grad_(true)).item<double>();
    }

    private static (TorchSharp.Modules.Linear First, TorchSharp.Modules.Linear Second, Tensor X) TwoLayers(int seed)
    {
        torch.manual_seed(seed);
        var first = nn.Linear(4, 6);
        var second = nn.Linear(6, 2);
        var x = torch.randn(5, 4);
        return (first, second, x);
    }

    private static Dictionary<string, float[]> Gradients(nn.Module<Tensor, Tensor> first, nn.Module<Tensor, Tensor> second, Tensor x, Func<Tensor, Tensor?>? hook)
    {
        first.zero_grad();
        second.zero_grad();
        var hidden = first.call(x).relu();
        HookHandle? handle = null;
        if (hook is not null)
        {
            (hidden, handle) = hidden.RegisterGradientHook(hook);
        }

        second.call(hidden).pow(2).sum().backward();
        handle?.LastError.Should().BeNull();
        handle?.Dispose();
        var result = new Dictionary<string, float[]>();
        foreach (var (name, p) in first.named_parameters())
        {
            result["first." + name] = Read(p);
        }

        foreach (var (name, p) in second.named_parameters())
        {
            result["second." + name] = Read(p);
        }

        return result;
    }

    internal static float[] Read(Tensor parameter)
    {
        using var grad = parameter.grad;
        return grad!.data<float>().ToArray();
    }
}
