using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ResidualNet.Layers;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// What the library's four blocks (<see cref="BasicBlock"/>, <see cref="Bottleneck"/>, <see cref="PreActBasicBlock"/>,
/// <see cref="PreActBottleneck"/>) have in common: the forward (input check, dispose scope, residual branch,
/// squeeze-excitation, drop path, shortcut addition and, in the original design, the activation after it), the
/// shortcut layers, BatchNorm folding and initialisation. Each block declares only the layers of its residual branch
/// and how they are called. Only the library derives from it; a user's own block implements
/// <see cref="IResidualBlock"/> instead.
/// </summary>
/// <remarks>
/// Submodules are registered explicitly, in this order: the branch's layers as the block lists them, then <c>se</c>,
/// <c>drop_path</c>, <c>downsample</c> and the activation after the addition; absent ones are skipped. That order is
/// torchvision's, so state_dict keys and their order equal Python's.
/// </remarks>
public abstract class ResidualBlockBase : nn.Module<Tensor, Tensor>, IResidualBlock, IBatchNormFoldable
{
    // The shortcut addition's alpha, held for the life of the process. TorchSharp's `a + b` converts the literal 1 to
    // a temporary native Scalar that nothing references during the native call, so a finalizer can free it while
    // libtorch reads it (seen once as "Expected false to be true ... toFloat" from add); a static one cannot be.
    private static readonly Scalar ShortcutAlpha = 1.ToScalar();

    /// <summary>The state_dict name of the shortcut layers (torchvision's).</summary>
    internal const string ShortcutName = "downsample";

    private readonly bool _preActivation;
    private (Conv2d Conv, nn.Module<Tensor, Tensor> Norm)[] _foldablePairs = [];
    private nn.Module<Tensor, Tensor>? _lastNorm;
    private byte[]? _initialRngState;
    private SqueezeExcitation? _se;
    private DropPath? _dropPath;
    private nn.Module<Tensor, Tensor>? _shortcut;
    private nn.Module<Tensor, Tensor>? _postActivation;

    /// <summary>Checks the arguments and keeps the random generator's state for <see cref="RegisterLayers"/>, which
    /// initialises the block from it (unless a network is building the block: the network initialises itself as a
    /// whole).</summary>
    /// <param name="name">The block's module name.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="planes">Planes; the output has <c>planes * expansion</c> channels.</param>
    /// <param name="expansion">Output channels per plane.</param>
    /// <param name="stride">Stride of the block.</param>
    /// <param name="options">Block options; <see cref="BlockOptions.Default"/> when null.</param>
    /// <param name="preActivation">True for the pre-activation design (no activation after the addition; a projection
    /// is a bare 1x1 convolution fed the pre-activated input).</param>
    private protected ResidualBlockBase(string name, long inChannels, long planes, int expansion, long stride, BlockOptions? options,
        bool preActivation)
        : base(name)
    {
        OneDnnGuard.EnsureApplied();
        options ??= BlockOptions.Default;
        CheckArguments(inChannels, planes, stride, options);
        Options = options;
        InChannels = inChannels;
        OutChannels = planes * expansion;
        Stride = stride;
        _preActivation = preActivation;
        if (!Initialization.IsDeferred)
        {
            // Kept as bytes, not as a tensor, so that nothing native is left behind when a block's constructor throws.
            using var rngState = torch.get_rng_state();
            _initialRngState = rngState.bytes.ToArray();
        }
    }

    /// <inheritdoc />
    public bool HasShortcut => Options.HasShortcut;

    /// <summary>The options the block was built with.</summary>
    public BlockOptions Options { get; }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels (<c>planes * expansion</c>).</summary>
    public long OutChannels { get; }

    /// <summary>Channels inside the residual branch: the first convolution's output (see <see cref="BlockOptions.BaseWidth"/>).</summary>
    public long Width { get; private protected set; }

    /// <summary>Stride of the block.</summary>
    public long Stride { get; }

    /// <summary>True when the shortcut has layers (a projection or zero padding) rather than being the identity;
    /// always false for a plain block.</summary>
    public bool HasShortcutLayers => _shortcut is not null;

    /// <summary>
    /// Whether <see cref="FoldBatchNorm"/> has merged this block's BatchNorms into its convolutions: the forward
    /// then skips the BatchNorm calls. A folded block is for inference only (its forward throws in training mode).
    /// </summary>
    public bool IsBatchNormFolded { get; private set; }

    /// <summary>The state dict in PyTorch's order (per module: parameters, buffers, then children), so that keys
    /// come in the same order as in Python torchvision.</summary>
    /// <param name="destination">Dictionary to add to; a new one when null.</param>
    /// <param name="prefix">Key prefix (joined with a dot); none when null or empty.</param>
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
        => StateDictOrder.InPyTorchOrder(this, destination, prefix);

    /// <summary>
    /// Folds each BatchNorm that directly follows a convolution of this block (and of its projection shortcut)
    /// into that convolution, for inference: the convolution gets the folded weight and a bias, the BatchNorm is
    /// set to an exact identity (so the state_dict keeps its keys, with identity values, plus the new
    /// <c>convK.bias</c> keys) and the forward no longer calls it. One-way; the block must be in evaluation mode.
    /// Blocks whose normalisation is not BatchNorm (GroupNorm) and pre-activation blocks (their BatchNorms precede
    /// the convolutions) are left unchanged and report 0.
    /// </summary>
    /// <returns>The number of convolution + BatchNorm pairs folded (0 when already folded).</returns>
    /// <exception cref="InvalidOperationException">The block is in training mode.</exception>
    public int FoldBatchNorm()
    {
        if (IsBatchNormFolded)
        {
            return 0;
        }

        var pairs = _foldablePairs;
        if (pairs.Length == 0 || pairs.Any(p => p.Norm is not BatchNorm2d))
        {
            return 0;
        }

        if (modules().FirstOrDefault(m => m.training) is { } training)
        {
            throw new InvalidOperationException(
                $"{GetName()} is in training mode (module '{training.GetName()}' has training = true); folding is for inference: call eval() first.");
        }

        foreach (var (conv, norm) in pairs)
        {
            ConvBatchNorm.Fold(conv, (BatchNorm2d)norm);
        }

        int folded = pairs.Length;
        if (_shortcut is Sequential shortcut)
        {
            folded += ConvBatchNorm.FoldAdjacentPairs(shortcut);
        }

        IsBatchNormFolded = true;
        return folded;
    }

    /// <summary>
    /// <c>post(se(branch(x)) + shortcut(x))</c>: the residual branch (<see cref="Branch"/>), squeeze-excitation,
    /// drop path, the shortcut addition (not in a plain block) and, in the original design, the activation after it.
    /// </summary>
    /// <param name="input">A batch <c>(N, InChannels, H, W)</c>.</param>
    /// <returns>The block's output <c>(N, OutChannels, H / Stride, W / Stride)</c>.</returns>
    /// <exception cref="ArgumentException">The input is not 4-D or has the wrong number of channels.</exception>
    /// <exception cref="InvalidOperationException">The block is folded and in training mode.</exception>
    public sealed override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        ModuleInput.CheckBatch(input, InChannels, GetType().Name);
        if (IsBatchNormFolded && training)
        {
            throw new InvalidOperationException(
                $"{GetName()} has its BatchNorms folded into its convolutions (inference only) and cannot run in training mode; rebuild or reload the unfolded model to train.");
        }

        using var scope = torch.NewDisposeScope();
        var y = Branch(input, out var shortcutInput);
        if (_se is not null)
        {
            y = _se.call(y);
        }

        if (Options.HasShortcut)
        {
            if (_dropPath is not null)
            {
                y = _dropPath.call(y);
            }

            y = y.add(_shortcut is null ? input : _shortcut.call(shortcutInput), ShortcutAlpha);
        }

        if (_postActivation is not null)
        {
            y = _postActivation.call(y);
        }

        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Nothing to do: <see cref="RegisterLayers"/> registers every submodule explicitly, in torchvision's order.</summary>
    protected sealed override void RegisterComponents()
    {
    }

    /// <summary>The residual branch F(x), up to (not including) squeeze-excitation.</summary>
    /// <param name="input">The block's input.</param>
    /// <param name="shortcutInput">What the shortcut layers take: the input itself, or in the pre-activation design
    /// the pre-activated input.</param>
    /// <returns>F(x).</returns>
    private protected abstract Tensor Branch(Tensor input, out Tensor shortcutInput);

    /// <summary>
    /// Creates the layers every block shares (squeeze-excitation, drop path, shortcut, and the activation after the
    /// addition when <paramref name="postActivationName"/> is given), registers the branch's layers and then those,
    /// and initialises the block when its constructor was asked to. The last call of a block's constructor.
    /// </summary>
    /// <param name="postActivationName">The name of the activation after the addition (<c>act2</c> in a basic block),
    /// or null in the pre-activation design.</param>
    /// <param name="branch">The residual branch's layers with their state_dict names (torchvision's: <c>convK</c>,
    /// <c>bnK</c>, <c>actK</c>), in registration order. A <c>bnK</c> listed right after a <c>convK</c> normalises that
    /// convolution's output (the pair <see cref="FoldBatchNorm"/> folds); the last <c>bnK</c> is the one
    /// <see cref="BlockOptions.ZeroInitLastNorm"/> zeroes.</param>
    private protected void RegisterLayers(string? postActivationName, params (string Name, nn.Module<Tensor, Tensor> Module)[] branch)
    {
        _foldablePairs = branch.Zip(branch.Skip(1))
            .Where(p => p.First.Module is Conv2d && p.First.Name.StartsWith("conv", StringComparison.Ordinal)
                        && p.Second.Name == "bn" + p.First.Name["conv".Length..])
            .Select(p => ((Conv2d)p.First.Module, p.Second.Module))
            .ToArray();
        _lastNorm = branch.Last(l => l.Name.StartsWith("bn", StringComparison.Ordinal)).Module;

        _se = Options.SqueezeExcitation ? new SqueezeExcitation(OutChannels, Options.SqueezeExcitationReduction, Options.Activation) : null;
        _dropPath = Options.DropPathRate > 0 ? new DropPath(Options.DropPathRate) : null;
        _shortcut = CreateShortcut(InChannels, OutChannels, Stride, Options, _preActivation);
        _postActivation = postActivationName is null ? null : Options.Activation.Create();

        foreach (var (name, module) in branch)
        {
            register_module(name, module);
        }

        RegisterIfPresent("se", _se);
        RegisterIfPresent("drop_path", _dropPath);
        RegisterIfPresent(ShortcutName, _shortcut);
        if (postActivationName is not null)
        {
            register_module(postActivationName, _postActivation!);
        }

        if (_initialRngState is { } initialRngState)
        {
            // Initialise from the generator state the constructor found, whatever the layers drew while being created.
            using (var rngState = torch.tensor(initialRngState))
            {
                torch.set_rng_state(rngState);
            }

            _initialRngState = null;
            Initialization.Initialize(this);
            ApplyZeroInit();
        }
    }

    /// <summary>The two 3x3 convolutions of a basic block (the first with the stride); sets <see cref="Width"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Grouped convolutions or another base width were asked for.</exception>
    private protected (Conv2d First, Conv2d Second) BasicConvolutions(long planes)
    {
        CheckBasicOptions(Options, GetType().Name);
        Width = CheckWidth((long)(planes * Options.WidthMultiplier), planes, Options);
        return (Convolutions.Conv3x3(InChannels, Width, Stride, dilation: Options.Dilation),
            Convolutions.Conv3x3(Width, OutChannels, dilation: Options.Dilation));
    }

    /// <summary>
    /// The convolutions of a bottleneck: 1x1 reducing to <see cref="Width"/>, 3x3 (grouped, dilated), 1x1 expanding to
    /// <see cref="OutChannels"/>. The stride sits on the 3x3 unless <see cref="BlockOptions.StrideOnFirstConv"/> puts it
    /// on the first 1x1. Sets <see cref="Width"/>.
    /// </summary>
    private protected (Conv2d Reduce, Conv2d Middle, Conv2d Expand) BottleneckConvolutions(long planes)
    {
        Width = BottleneckWidth(planes, Options);
        long firstStride = Options.StrideOnFirstConv ? Stride : 1;
        long middleStride = Options.StrideOnFirstConv ? 1 : Stride;
        return (Convolutions.Conv1x1(InChannels, Width, firstStride),
            Convolutions.Conv3x3(Width, Width, middleStride, Options.Groups, Options.Dilation),
            Convolutions.Conv1x1(Width, OutChannels));
    }

    /// <summary>A new normalisation layer of the block's options for <paramref name="channels"/> channels.</summary>
    private protected nn.Module<Tensor, Tensor> Norm(long channels) => Options.Norm.Create(channels);

    /// <summary>A new activation of the block's options.</summary>
    private protected nn.Module<Tensor, Tensor> Activation() => Options.Activation.Create();

    /// <summary>Applies <paramref name="norm"/> unless it has been folded into the preceding convolution.</summary>
    private protected Tensor Normalize(nn.Module<Tensor, Tensor> norm, Tensor x) => IsBatchNormFolded ? x : norm.call(x);

    /// <summary>Applies <see cref="BlockOptions.ZeroInitLastNorm"/> when it is set.</summary>
    internal void ApplyZeroInit()
    {
        if (Options.ZeroInitLastNorm)
        {
            Initialization.ZeroInit(_lastNorm!);
        }
    }

    /// <summary>Basic blocks accept neither grouped convolutions nor another base width (as torchvision).</summary>
    private static void CheckBasicOptions(BlockOptions options, string blockName)
    {
        if (options.Groups != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Groups,
                $"{blockName} supports only options.Groups = 1; got {options.Groups}. Use a bottleneck block for ResNeXt.");
        }

        if (options.BaseWidth != 64)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BaseWidth,
                $"{blockName} supports only options.BaseWidth = 64; got {options.BaseWidth}. Use WidthMultiplier for a wide basic block.");
        }
    }

    /// <summary>torchvision's bottleneck width: <c>int(planes * (base_width / 64.0)) * groups</c>, times the multiplier.</summary>
    internal static long BottleneckWidth(long planes, BlockOptions options)
        => CheckWidth((long)(planes * (options.BaseWidth / 64.0) * options.WidthMultiplier) * options.Groups, planes, options);

    private static void CheckArguments(long inChannels, long planes, long stride, BlockOptions options)
    {
        if (inChannels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, $"inChannels must be at least 1; got {inChannels}.");
        }

        if (planes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(planes), planes, $"planes must be at least 1; got {planes}.");
        }

        if (stride < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"stride must be at least 1; got {stride}.");
        }

        options.Validate();
    }

    private static long CheckWidth(long width, long planes, BlockOptions options)
    {
        if (width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BaseWidth, string.Create(CultureInfo.InvariantCulture,
                $"The inner width is 0 for planes = {planes}, options.BaseWidth = {options.BaseWidth}, WidthMultiplier = {options.WidthMultiplier}: raise BaseWidth or WidthMultiplier."));
        }

        return width;
    }

    /// <summary>The shortcut layers, or null for the identity and for a plain block.</summary>
    private static nn.Module<Tensor, Tensor>? CreateShortcut(long inChannels, long outChannels, long stride, BlockOptions options, bool preActivation)
    {
        if (!options.HasShortcut || (stride == 1 && inChannels == outChannels))
        {
            return null;
        }

        switch (options.Shortcut)
        {
            case ShortcutKind.Projection:
                return preActivation
                    ? nn.Sequential(Convolutions.Conv1x1(inChannels, outChannels, stride))
                    : nn.Sequential(Convolutions.Conv1x1(inChannels, outChannels, stride), options.Norm.Create(outChannels));
            case ShortcutKind.ZeroPad:
                if (outChannels < inChannels)
                {
                    throw new ArgumentException(
                        $"A zero-padding shortcut cannot reduce channels from {inChannels} to {outChannels}; use ShortcutKind.Projection.",
                        nameof(options));
                }

                return new ZeroPadShortcut(inChannels, outChannels, stride);
            case ShortcutKind.AvgPoolProjection:
                nn.Module<Tensor, Tensor> pool = stride > 1
                    ? nn.AvgPool2d(stride, stride, ceil_mode: true, count_include_pad: false)
                    : nn.Identity();
                return preActivation
                    ? nn.Sequential(pool, Convolutions.Conv1x1(inChannels, outChannels))
                    : nn.Sequential(pool, Convolutions.Conv1x1(inChannels, outChannels), options.Norm.Create(outChannels));
            default:
                throw new ArgumentException(
                    $"Shortcut = {options.Shortcut} cannot change the shape from {inChannels} channels to {outChannels} with stride {stride}; use Projection, ZeroPad or AvgPoolProjection.",
                    nameof(options));
        }
    }

    private void RegisterIfPresent(string name, nn.Module? module)
    {
        if (module is not null)
        {
            register_module(name, module);
        }
    }
}
