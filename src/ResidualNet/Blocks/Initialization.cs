using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// torchvision's initialisation of a block or a network: convolutions kaiming-normal (fan_out, ReLU gain) with zero
/// bias, normalisation weight 1 and bias 0, linear layers PyTorch's default. The residual branches are drawn first
/// and the shortcut layers (every module under a <c>downsample</c>) last, so that a network and its plain twin built
/// from the same seed get the same residual-branch weights.
/// </summary>
/// <remarks>It lives with the blocks, the lowest layer that uses it: a block built on its own initialises itself
/// with it, and <c>ResNet</c> initialises a whole network with it.</remarks>
internal static class Initialization
{
    [ThreadStatic]
    private static int t_deferred;

    /// <summary>Whether blocks created now leave their initialisation to the network that builds them.</summary>
    internal static bool IsDeferred => t_deferred > 0;

    /// <summary>
    /// Until the returned scope is disposed, blocks created on this thread skip their own initialisation: a network
    /// building its stages initialises them afterwards, all at once, in its own order.
    /// </summary>
    internal static DeferredScope DeferBlocks()
    {
        t_deferred++;
        return default;
    }

    /// <summary>Ends a <see cref="DeferBlocks"/> scope.</summary>
    internal readonly struct DeferredScope : IDisposable
    {
        /// <summary>Ends the scope.</summary>
        public void Dispose() => t_deferred--;
    }

    /// <summary>Initialises every module of <paramref name="root"/>, residual branches first, shortcut layers last.</summary>
    internal static void Initialize(nn.Module root)
    {
        using var noGrad = torch.no_grad();
        var modules = root.named_modules().ToList();
        foreach (var (name, module) in modules.Where(m => !IsInShortcut(m.name)))
        {
            InitializeOne(module);
        }

        foreach (var (name, module) in modules.Where(m => IsInShortcut(m.name)))
        {
            InitializeOne(module);
        }
    }

    /// <summary>Zeroes the weight (and keeps the zero bias) of a block's last normalisation layer.</summary>
    internal static void ZeroInit(nn.Module<Tensor, Tensor> norm)
    {
        using var noGrad = torch.no_grad();
        switch (norm)
        {
            case BatchNorm2d { weight: not null } bn:
                nn.init.zeros_(bn.weight);
                break;
            case GroupNorm { weight: not null } gn:
                nn.init.zeros_(gn.weight);
                break;
        }
    }

    private static bool IsInShortcut(string name)
        => name.Split('.').Contains(ResidualBlockBase.ShortcutName, StringComparer.Ordinal);

    private static void InitializeOne(nn.Module module)
    {
        switch (module)
        {
            case Conv2d conv:
                nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                if (conv.bias is not null)
                {
                    nn.init.zeros_(conv.bias);
                }

                break;
            case BatchNorm2d bn:
                OnesAndZeros(bn.weight, bn.bias);
                break;
            case GroupNorm gn:
                OnesAndZeros(gn.weight, gn.bias);
                break;
            case Linear linear:
                nn.init.kaiming_uniform_(linear.weight, a: Math.Sqrt(5));
                if (linear.bias is not null)
                {
                    var bound = 1.0 / Math.Sqrt(linear.weight!.size(1));
                    nn.init.uniform_(linear.bias, -bound, bound);
                }

                break;
        }
    }

    private static void OnesAndZeros(Tensor? weight, Tensor? bias)
    {
        if (weight is not null)
        {
            nn.init.ones_(weight);
        }

        if (bias is not null)
        {
            nn.init.zeros_(bias);
        }
    }
}
