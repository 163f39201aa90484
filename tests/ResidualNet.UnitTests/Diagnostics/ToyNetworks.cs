using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>Activation of the toy networks.</summary>
public enum ToyActivation
{
    /// <summary>Logistic sigmoid (derivative at most 0.25).</summary>
    Sigmoid,

    /// <summary>Hyperbolic tangent.</summary>
    Tanh,

    /// <summary>Rectified linear unit.</summary>
    Relu,
}

/// <summary>
/// A small block for the seed's experiments: F(x) = conv(act(conv(act(x)))) (optionally with BatchNorm before each
/// activation), and x + F(x) when it has a shortcut. The activations sit inside F, so the plain twin has one between
/// every pair of convolutions while the residual twin keeps the seed's clean identity path x_{l+1} = x_l + F(x_l).
/// Kept for the monitor's and hooks' unit tests; the seed's claims are measured on the
/// library's own networks (<see cref="SeedNetworks"/>).
/// </summary>
public sealed class ToyBlock : Module<Tensor, Tensor>, IResidualBlock
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d? bn1;
    private readonly BatchNorm2d? bn2;
    private readonly ToyActivation _activation;
    private readonly bool _shortcut;

    public ToyBlock(int channels, ToyActivation activation, bool shortcut, bool batchNorm) : base(shortcut ? "ToyResidualBlock" : "ToyPlainBlock")
    {
        _activation = activation;
        _shortcut = shortcut;
        conv1 = Conv2d(channels, channels, 3, padding: 1, bias: false);
        conv2 = Conv2d(channels, channels, 3, padding: 1, bias: false);
        if (batchNorm)
        {
            bn1 = BatchNorm2d(channels);
            bn2 = BatchNorm2d(channels);
        }

        RegisterComponents();
    }

    public bool HasShortcut => _shortcut;

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = conv1.call(ToyNetworks.Activate(bn1 is null ? x : bn1.call(x), _activation));
        var f = conv2.call(ToyNetworks.Activate(bn2 is null ? h : bn2.call(h), _activation));
        var result = _shortcut ? x + f : f;
        return result.MoveToOuterDisposeScope();
    }
}

/// <summary>stem conv, blocks, activation, global average pool, linear classifier: 2 * blocks + 2 weighted layers.</summary>
public sealed class ToyNetwork : Module<Tensor, Tensor>
{
    private readonly Conv2d stem;
    private readonly Sequential blocks;
    private readonly Linear fc;
    private readonly ToyActivation _activation;

    public ToyNetwork(int depth, ToyActivation activation, bool residual, bool batchNorm, int channels, int classes)
        : base(residual ? "ToyResidualNetwork" : "ToyPlainNetwork")
    {
        if (depth < 4 || depth % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"depth must be even and at least 4; got {depth}.");
        }

        _activation = activation;
        stem = Conv2d(3, channels, 3, padding: 1, bias: false);
        var list = new List<(string, Module<Tensor, Tensor>)>();
        for (int i = 0; i < (depth - 2) / 2; i++)
        {
            list.Add(($"block{i}", new ToyBlock(channels, activation, residual, batchNorm)));
        }

        blocks = Sequential(list);
        fc = Linear(channels, classes);
        RegisterComponents();
    }

    public Sequential Blocks => blocks;

    public Conv2d Stem => stem;

    public Linear Classifier => fc;

    public ToyActivation Activation => _activation;

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = blocks.call(stem.call(x));
        var pooled = ToyNetworks.Activate(h, _activation).mean(new long[] { 2, 3 });
        return fc.call(pooled).MoveToOuterDisposeScope();
    }
}

/// <summary>Builds the toy networks, deterministically, with He (Kaiming normal, fan-in) initialisation of every convolution.</summary>
public static class ToyNetworks
{
    public static ToyNetwork Build(int depth, ToyActivation activation, bool residual, bool batchNorm = false, int channels = 16, int classes = 10, int seed = 0)
    {
        torch.manual_seed(seed);
        var network = new ToyNetwork(depth, activation, residual, batchNorm, channels, classes);
        using (torch.no_grad())
        {
            foreach (var (name, p) in network.named_parameters())
            {
                if (p.dim() == 4)
                {
                    init.kaiming_normal_(p, mode: init.FanInOut.FanIn, nonlinearity: init.NonlinearityType.ReLU);
                }
            }
        }

        return network;
    }

    /// <summary>A fixed batch: 16 random 3x8x8 images and labels.</summary>
    public static (Tensor Images, Tensor Labels) Batch(int seed = 1, int batch = 16, int size = 8)
    {
        var generator = new torch.Generator((ulong)seed);
        var images = torch.randn(new long[] { batch, 3, size, size }, generator: generator);
        var labels = torch.randint(0, 10, new long[] { batch }, generator: generator);
        return (images, labels);
    }

    /// <summary>
    /// One monitored step at initialisation (training mode): the fixed batch, cross-entropy, backward. The seed's
    /// gradient-flow measurement, for the tests.
    /// </summary>
    public static GradientFlowStep GradientFlowAtInit(int depth, ToyActivation activation, bool residual, bool batchNorm = false)
    {
        using var scope = torch.NewDisposeScope();
        var network = Build(depth, activation, residual, batchNorm);
        network.train();
        var (images, labels) = Batch();
        using var monitor = GradientFlowMonitor.Attach(network);
        nn.functional.cross_entropy(network.call(images), labels).backward();
        return monitor.RecordStep()!;
    }

    /// <summary>The identity term of the network's blocks at initialisation, from the stem's output for the fixed batch (8 probes, seed 0).</summary>
    public static IdentityTermReport IdentityTermAtInit(int depth, ToyActivation activation, bool residual)
    {
        using var scope = torch.NewDisposeScope();
        var network = Build(depth, activation, residual);
        var (images, _) = Batch();
        Tensor x;
        using (torch.no_grad())
        {
            x = network.Stem.call(images);
        }

        return IdentityTerm.Measure(network.Blocks.children().Cast<Module<Tensor, Tensor>>().ToList(), x);
    }

    internal static Tensor Activate(Tensor x, ToyActivation activation) => activation switch
    {
        ToyActivation.Sigmoid => x.sigmoid(),
        ToyActivation.Tanh => x.tanh(),
        _ => x.relu(),
    };
}
