using System;
using System.Collections.Generic;
using FluentAssertions;
using ResidualNet.Hooks;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Hooks;

public class ModuleHookTests
{
    [Fact]
    public void FullBackwardHookSeesAutogradsGradientsOfInputAndOutput()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var first = nn.Linear(4, 6);
        var middle = nn.Linear(6, 6);
        var last = nn.Linear(6, 3);
        var x = torch.randn(7, 4);

        Tensor? gradIn = null, gradOut = null;
        int calls = 0;
        using var handle = middle.RegisterFullBackwardHook((m, gi, go) =>
        {
            calls++;
            m.Should().BeSameAs(middle);
            gradIn = gi!.detach().clone();
            gradOut = go.detach().clone();
            return null;
        });

        var h = first.call(x).tanh();
        var y = middle.call(h);
        var loss = last.call(y.tanh()).pow(2).sum();
        var expected = torch.autograd.grad(new[] { loss }, new[] { h, y }, retain_graph: true);
        calls.Should().Be(1, "torch.autograd.grad runs the graph's hooks too, as in PyTorch");
        gradIn = gradOut = null;
        loss.backward();

        calls.Should().Be(2);
        torch.equal(gradIn!, expected[0]).all().item<bool>().Should().BeTrue("grad_input is dL/dh");
        torch.equal(gradOut!, expected[1]).all().item<bool>().Should().BeTrue("grad_output is dL/dy");
        handle.LastError.Should().BeNull();
    }

    [Fact]
    public void ReplacingGradInputDoublesEveryParameterGradientUpstreamOnly()
    {
        using var scope = torch.NewDisposeScope();
        var reference = Run(hook: null);
        var doubled = Run(hook: (_, gi, _) => gi! * 2);

        doubled["first.weight"].Should().Equal(Twice(reference["first.weight"]));
        doubled["first.bias"].Should().Equal(Twice(reference["first.bias"]));
        doubled["middle.weight"].Should().Equal(reference["middle.weight"], "the hooked module's own parameters are downstream of grad_input");
        doubled["last.weight"].Should().Equal(reference["last.weight"]);
    }

    [Fact]
    public void DisposedBackwardHookIsNeverCalledAndChangesNothing()
    {
        using var scope = torch.NewDisposeScope();
        var reference = Run(hook: null);
        int calls = 0;
        var after = Run(hook: (_, gi, _) => { calls++; return gi! * 5; }, disposeBeforeBackward: true);
        calls.Should().Be(0);
        after["first.weight"].Should().Equal(reference["first.weight"]);
    }

    [Fact]
    public void InputWithoutGradGivesNullGradInput()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(6);
        var layer = nn.Linear(3, 2);
        var x = torch.randn(4, 3);
        bool sawNull = false;
        Tensor? gradOut = null;
        using var handle = layer.RegisterFullBackwardHook((_, gi, go) => { sawNull = gi is null; gradOut = go.detach().clone(); return null; });
        var y = layer.call(x);
        (y * 3).sum().backward();
        sawNull.Should().BeTrue();
        gradOut!.eq(3).all().item<bool>().Should().BeTrue();
    }

    [Fact]
    public void ModuleCalledTwiceReportsEachCall()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        var shared = nn.Linear(3, 3);
        var x = torch.randn(2, 3).requires_grad_(true);
        var norms = new List<float>();
        using var handle = shared.RegisterFullBackwardHook((_, gi, go) => { norms.Add(go.norm().item<float>()); return null; });
        var y = shared.call(shared.call(x));
        (y * 2).sum().backward();
        norms.Should().HaveCount(2);
        norms[0].Should().BeApproximately(2 * MathF.Sqrt(6), 1e-5f, "the outer call's output gradient is all twos");
    }

    [Fact]
    public void ForwardHookConveniencesObserveReplaceAndRemove()
    {
        using var scope = torch.NewDisposeScope();
        var layer = nn.Linear(2, 2);
        var x = torch.ones(1, 2);
        int seen = 0;
        var observe = layer.RegisterForwardHook((nn.Module<Tensor, Tensor> _, Tensor _, Tensor _) => { seen++; });
        var replace = layer.RegisterForwardHook((_, _, output) => output * 0);
        var pre = layer.RegisterForwardPreHook((_, input) => input * 2);

        layer.call(x).abs().sum().item<float>().Should().Be(0);
        seen.Should().Be(1);

        replace.Dispose();
        replace.Dispose();
        pre.Dispose();
        observe.Dispose();
        using (torch.no_grad())
        {
            torch.equal(layer.call(x), layer.forward(x)).all().item<bool>().Should().BeTrue();
        }

        seen.Should().Be(1);
    }

    private static float[] Twice(float[] values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i] * 2;
        }

        return result;
    }

    private static Dictionary<string, float[]> Run(FullBackwardHook? hook, bool disposeBeforeBackward = false)
    {
        torch.manual_seed(9);
        var first = nn.Linear(4, 6);
        var middle = nn.Linear(6, 6);
        var last = nn.Linear(6, 3);
        var x = torch.randn(7, 4);
        var handle = hook is null ? null : middle.RegisterFullBackwardHook(hook);
        var y = last.call(middle.call(first.call(x).tanh()).tanh());
        if (disposeBeforeBackward)
        {
            handle?.Dispose();
        }

        y.pow(2).sum().backward();
        handle?.LastError.Should().BeNull();
        handle?.Dispose();
        var result = new Dictionary<string, float[]>();
        foreach (var (module, name) in new[] { (first, "first"), (middle, "middle"), (last, "last") })
        {
            foreach (var (p, pn) in new[] { (module.weight!, "weight"), (module.bias!, "bias") })
            {
                result[$"{name}.{pn}"] = GradientHookTests.Read(p);
            }
        }

        return result;
    }
}
