using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Models;

/// <summary>
/// A residual network: stem, stages of residual blocks, head, built from a <see cref="ResNetOptions"/>.
/// Module names (and so state-dict keys) follow torchvision: <c>conv1</c>, <c>bn1</c>, <c>layer1</c>...<c>layerN</c>,
/// <c>fc</c>; pre-activation networks add <c>final_norm</c> before the head. For the torchvision families the
/// state dict equals Python torchvision's in keys, shapes and order.
/// </summary>
/// <remarks>
/// Initialisation follows torchvision (kaiming-normal fan-out convolutions, unit normalisation weights, zero
/// biases, default linear layer). The residual branches are drawn first and the shortcut layers last, so with
/// the same seed a network and its plain twin share every residual-branch weight: initialisation starts from the
/// generator state the constructor found, whatever the layers drew while being created.
/// </remarks>
public sealed class ResNet : nn.Module<Tensor, Tensor>, IBatchNormFoldable
{
    private readonly nn.Module<Tensor, Tensor> _conv1;
    private readonly nn.Module<Tensor, Tensor>? _bn1;
    private readonly nn.Module<Tensor, Tensor>? _act1;
    private readonly nn.Module<Tensor, Tensor>? _maxpool;
    private readonly Sequential[] _stages;
    private readonly nn.Module<Tensor, Tensor>? _finalNorm;
    private readonly nn.Module<Tensor, Tensor>? _finalAct;
    private readonly Linear? _fc;
    private readonly BlockInfo[] _blocks;
    private readonly long[] _stageChannels;
    private nn.Module<Tensor, Tensor>[][]? _segments;
    private CheckpointGranularity _checkpointing;
    private bool _stemFolded;
    private bool _disposed;

    /// <summary>Whether the network has been disposed (its forward then throws <see cref="ObjectDisposedException"/>).</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Builds and initialises the network.</summary>
    /// <param name="options">The description; see <see cref="ResNetPresets"/> and <see cref="ResNetBuilder"/>.</param>
    /// <exception cref="ArgumentException">An option is out of range (the message names it and its value).</exception>
    public ResNet(ResNetOptions options) : base(nameof(ResNet))
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var rngState = torch.get_rng_state();
        Options = options;
        var block = options.Block;
        bool preActFirst = options.Stages[0].Kind.IsPreActivation();
        bool preActLast = options.Stages[^1].Kind.IsPreActivation();

        // Stem.
        long width = options.StemWidth;
        if (options.Stem == StemKind.Deep)
        {
            long half = width / 2;
            _conv1 = nn.Sequential(
                Convolutions.Conv3x3(options.InputChannels, half, stride: 2), block.Norm.Create(half), block.Activation.Create(),
                Convolutions.Conv3x3(half, half), block.Norm.Create(half), block.Activation.Create(),
                Convolutions.Conv3x3(half, width));
        }
        else if (options.Stem == StemKind.ImageNet)
        {
            _conv1 = nn.Conv2d(options.InputChannels, width, 7, stride: 2, padding: 3, bias: false);
        }
        else
        {
            _conv1 = Convolutions.Conv3x3(options.InputChannels, width);
        }

        if (!(options.Stem == StemKind.Cifar && preActFirst))
        {
            _bn1 = block.Norm.Create(width);
            _act1 = block.Activation.Create();
        }

        if (options.Stem != StemKind.Cifar)
        {
            _maxpool = nn.MaxPool2d(3, 2, 1);
        }

        // Stages.
        _stages = new Sequential[options.Stages.Count];
        _stageChannels = new long[options.Stages.Count];
        var blocks = new List<BlockInfo>();
        int total = options.BlockCount;
        int blockIndex = 0;
        long inChannels = width;
        long dilation = 1;
        for (int s = 0; s < options.Stages.Count; s++)
        {
            var stage = options.Stages[s];
            var stageBlock = stage.Options ?? block;
            long stride = stage.Stride;
            long previousDilation = dilation;
            if (stage.Dilate)
            {
                dilation *= stride;
                stride = 1;
            }

            var modules = new nn.Module<Tensor, Tensor>[stage.Blocks];
            for (int b = 0; b < stage.Blocks; b++, blockIndex++)
            {
                double rate = total > 1 ? stageBlock.DropPathRate * blockIndex / (total - 1) : stageBlock.DropPathRate;
                long blockDilation = stageBlock.Dilation * (b == 0 ? previousDilation : dilation);
                var blockOptions = rate == stageBlock.DropPathRate && blockDilation == stageBlock.Dilation
                    ? stageBlock
                    : stageBlock with { DropPathRate = rate, Dilation = checked((int)blockDilation) };
                using (Initialization.DeferBlocks())
                {
                    // The network initialises every block below, in its own order: the block skips its own.
                    modules[b] = ResidualBlocks.Create(stage.Kind, inChannels, stage.Planes, b == 0 ? stride : 1, blockOptions);
                }

                blocks.Add(new BlockInfo($"layer{s + 1}.{b}", s, b, modules[b]));
                inChannels = stage.OutChannels;
            }

            _stages[s] = nn.Sequential(modules);
            _stageChannels[s] = inChannels;
        }

        _blocks = blocks.ToArray();

        // Head.
        if (preActLast)
        {
            _finalNorm = block.Norm.Create(inChannels);
            _finalAct = block.Activation.Create();
        }

        if (options.Head == HeadKind.AveragePoolLinear)
        {
            _fc = nn.Linear(inChannels, options.NumClasses);
        }

        // Registration in torchvision's order (fields would register in declaration order, which cannot
        // interleave a variable number of stages).
        register_module("conv1", _conv1);
        RegisterIfPresent("bn1", _bn1);
        RegisterIfPresent("act1", _act1);
        RegisterIfPresent("maxpool", _maxpool);
        for (int s = 0; s < _stages.Length; s++)
        {
            register_module($"layer{s + 1}", _stages[s]);
        }

        RegisterIfPresent("final_norm", _finalNorm);
        RegisterIfPresent("final_act", _finalAct);
        RegisterIfPresent("fc", _fc);

        // Initialise from the generator state the constructor started with, so that the random draws made while
        // creating the layers (which differ between a network and its plain twin) do not shift the weights.
        torch.set_rng_state(rngState);
        ResetParameters();
    }

    /// <summary>The options the network was built from.</summary>
    public ResNetOptions Options { get; }

    /// <summary>The stages (<c>layer1</c>...), in order.</summary>
    public IReadOnlyList<Sequential> Stages => Array.AsReadOnly(_stages);

    /// <summary>Output channels of each stage.</summary>
    public IReadOnlyList<long> StageChannels => Array.AsReadOnly(_stageChannels);

    /// <summary>Every block in forward order, with its qualified name and stage position.</summary>
    public IReadOnlyList<BlockInfo> Blocks => Array.AsReadOnly(_blocks);

    /// <summary>Channels of the features that enter the head (the last stage's output channels).</summary>
    public long FeatureChannels => _stageChannels[^1];

    /// <summary>
    /// Activation checkpointing of the stages during training (default <see cref="CheckpointGranularity.None"/>):
    /// the chosen segments keep only their input in the forward and are recomputed in the backward, trading about
    /// one extra forward per step for memory. Parameters, state_dict keys and results are unchanged; it applies
    /// only in training mode with gradients enabled. Hooks on the stage <c>Sequential</c>s do not fire while it is
    /// on (the blocks are called directly), and hooks on the blocks fire twice (forward and recomputation).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined granularity.</exception>
    public CheckpointGranularity Checkpointing
    {
        get => _checkpointing;
        set
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Checkpointing must be a defined CheckpointGranularity; got {value}.");
            }

            _checkpointing = value;
            _segments = value == CheckpointGranularity.None ? null : BuildSegments(value);
        }
    }

    /// <summary>
    /// Whether <see cref="FoldBatchNorm"/> has folded BatchNorms of this network (its stem's or any block's): the
    /// forward then skips them, and the network is for inference only.
    /// </summary>
    public bool IsBatchNormFolded => _stemFolded || _blocks.Any(b => b.Module is ResidualBlockBase { IsBatchNormFolded: true });

    /// <summary>
    /// Folds every BatchNorm that follows a convolution (stem and blocks, see
    /// <see cref="ResidualBlockBase.FoldBatchNorm"/>) into it, for inference only; the folded BatchNorms are no
    /// longer called. Called by <see cref="Performance.BatchNormFolding.FoldBatchNorms{TModule}"/>.
    /// </summary>
    /// <returns>The number of convolution + BatchNorm pairs folded.</returns>
    /// <exception cref="InvalidOperationException">The network is in training mode.</exception>
    public int FoldBatchNorm()
    {
        if (modules().FirstOrDefault(m => m.training) is { } training)
        {
            throw new InvalidOperationException(
                $"The network is in training mode (module '{training.GetName()}' has training = true); folding is for inference: call eval() first.");
        }

        int folded = 0;
        if (!_stemFolded && _bn1 is BatchNorm2d bn)
        {
            Conv2d? last = _conv1 as Conv2d;
            if (_conv1 is Sequential deep)
            {
                folded += ConvBatchNorm.FoldAdjacentPairs(deep);
                last = deep.children().LastOrDefault() as Conv2d;
            }

            if (last is not null)
            {
                ConvBatchNorm.Fold(last, bn);
                _stemFolded = true;
                folded++;
            }
        }

        foreach (var info in _blocks)
        {
            folded += ((IBatchNormFoldable)info.Module).FoldBatchNorm();
        }

        return folded;
    }

    /// <summary>
    /// Re-initialises every parameter as at construction (torchvision's scheme, residual branches first,
    /// shortcut layers last, then <see cref="BlockOptions.ZeroInitLastNorm"/>). Uses the global random generator.
    /// </summary>
    public void ResetParameters()
    {
        Initialization.Initialize(this);
        foreach (var info in _blocks)
        {
            if (info.Module is ResidualBlockBase block)
            {
                block.ApplyZeroInit();
            }
        }
    }

    /// <summary>The state dict in PyTorch's order (per module: parameters, buffers, then children), so that keys
    /// come in the same order as in Python torchvision.</summary>
    /// <param name="destination">Dictionary to add to; a new one when null.</param>
    /// <param name="prefix">Key prefix (joined with a dot); none when null or empty.</param>
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
        => StateDictOrder.InPyTorchOrder(this, destination, prefix);

    /// <summary>Logits <c>(N, NumClasses)</c>, or the last feature map when the head is <see cref="HeadKind.None"/>.</summary>
    /// <param name="input">A batch <c>(N, InputChannels, H, W)</c>.</param>
    /// <exception cref="ArgumentException">The input is not 4-D, has the wrong number of channels, or differs from the
    /// parameters in dtype or device (the message names both).</exception>
    /// <exception cref="ObjectDisposedException">The network has been disposed.</exception>
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        CheckInput(input);
        using var scope = torch.NewDisposeScope();
        var y = Stem(input);
        for (int s = 0; s < _stages.Length; s++)
        {
            y = RunStage(s, y);
        }

        y = Head(y);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The output of every stage (a feature pyramid), from <c>layer1</c> to the last stage; the head (and, in
    /// pre-activation networks, <c>final_norm</c>) is not run.
    /// The caller owns (and disposes) the returned tensors.
    /// </summary>
    /// <param name="input">A batch <c>(N, InputChannels, H, W)</c>.</param>
    /// <exception cref="ArgumentException">The input is not 4-D, has the wrong number of channels, or differs from the
    /// parameters in dtype or device.</exception>
    /// <exception cref="ObjectDisposedException">The network has been disposed.</exception>
    public IReadOnlyList<Tensor> ForwardFeatures(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        CheckInput(input);
        using var scope = torch.NewDisposeScope();
        var features = new Tensor[_stages.Length];
        var y = Stem(input);
        for (int s = 0; s < _stages.Length; s++)
        {
            y = RunStage(s, y);
            features[s] = y;
        }

        foreach (var feature in features)
        {
            feature.MoveToOuterDisposeScope();
        }

        return features;
    }

    /// <summary>Marks the network disposed (its forward then throws <see cref="ObjectDisposedException"/>) and
    /// disposes its modules.</summary>
    /// <param name="disposing">True when called from <see cref="IDisposable.Dispose"/>.</param>
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    private void CheckInput(Tensor input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ModuleInput.CheckBatch(input, Options.InputChannels, nameof(ResNet));
        ModuleInput.CheckDtypeAndDevice(input, _conv1.parameters().FirstOrDefault(), nameof(ResNet));
    }

    /// <summary>Nothing to do: every submodule is registered explicitly, in torchvision's order, by the constructor.</summary>
    protected override void RegisterComponents()
    {
    }

    private Tensor RunStage(int stage, Tensor y)
    {
        var segments = _segments;
        if (segments is null || !training || !torch.is_grad_enabled())
        {
            return _stages[stage].call(y);
        }

        foreach (var segment in segments[stage])
        {
            if (segment.training != training)
            {
                segment.train(training);
            }

            y = Layers.Checkpointing.Run(segment, y);
        }

        return y;
    }

    private nn.Module<Tensor, Tensor>[][] BuildSegments(CheckpointGranularity granularity)
    {
        var result = new nn.Module<Tensor, Tensor>[_stages.Length][];
        for (int s = 0; s < _stages.Length; s++)
        {
            var blocks = _blocks.Where(b => b.StageIndex == s).Select(b => b.Module).ToArray();
            result[s] = granularity switch
            {
                CheckpointGranularity.Block => blocks,
                CheckpointGranularity.Stage => new nn.Module<Tensor, Tensor>[] { _stages[s] },
                _ => blocks.Chunk((int)Math.Ceiling(Math.Sqrt(blocks.Length)))
                    .Select(chunk => (nn.Module<Tensor, Tensor>)new BlockSegment(chunk))
                    .ToArray(),
            };
        }

        return result;
    }

    private Tensor Stem(Tensor input)
    {
        if (_stemFolded && training)
        {
            throw new InvalidOperationException(
                "The network has its BatchNorms folded into its convolutions (inference only) and cannot run in training mode; rebuild or reload the unfolded model to train.");
        }

        var y = _conv1.call(input);
        if (_bn1 is not null)
        {
            y = _act1!.call(_stemFolded ? y : _bn1.call(y));
        }

        return _maxpool is null ? y : _maxpool.call(y);
    }

    private Tensor Head(Tensor y)
    {
        if (_finalNorm is not null)
        {
            y = _finalAct!.call(_finalNorm.call(y));
        }

        if (_fc is null)
        {
            return y;
        }

        y = nn.functional.adaptive_avg_pool2d(y, 1).flatten(1);
        return _fc.call(y);
    }

    private void RegisterIfPresent(string name, nn.Module? module)
    {
        if (module is not null)
        {
            register_module(name, module);
        }
    }
}

/// <summary>Whether a module of the library has been disposed: TorchSharp empties a disposed module's parameter list,
/// so the tools ask here before they read one.</summary>
internal static class DisposedModules
{
    /// <summary>True for a disposed <see cref="ResNet"/> or residual block, or a module with a disposed parameter or
    /// buffer.</summary>
    internal static bool IsDisposed(nn.Module module) => module switch
    {
        ResNet net => net.IsDisposed,
        ResidualBlockBase block => block.IsDisposed,
        _ => module.parameters().Any(p => p.IsInvalid) || module.buffers().Any(b => b.IsInvalid),
    };
}

/// <summary>Consecutive blocks of a stage run as one checkpointed segment (not registered in the network).</summary>
internal sealed class BlockSegment : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _blocks;

    internal BlockSegment(nn.Module<Tensor, Tensor>[] blocks) : base(nameof(BlockSegment))
    {
        _blocks = blocks;
        for (int i = 0; i < blocks.Length; i++)
        {
            register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), blocks[i]);
        }
    }

    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        using var scope = torch.NewDisposeScope();
        var y = input;
        foreach (var block in _blocks)
        {
            y = block.call(y);
        }

        return y.MoveToOuterDisposeScope();
    }

    protected override void RegisterComponents()
    {
    }

#pragma warning disable CA2215 // The blocks belong to the network: the segment (which owns nothing) must not dispose them.
    protected override void Dispose(bool disposing)
    {
    }
#pragma warning restore CA2215
}
