using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Layers;

namespace ResidualNet.Models;

/// <summary>
/// Says whether a <see cref="ResNetOptions"/> has an exact equivalent in Python torchvision (0.14 and later), and
/// which constructor builds it: the same state_dict keys and shapes, and the same forward. A portable network can be
/// trained in PyTorch (for example with DistributedDataParallel on many machines) and loaded back strictly with
/// <see cref="Weights.ModelWeights"/>; see <c>docs/scale-out.md</c>.
/// </summary>
/// <remarks>
/// <para>The Python side is torchvision's
/// <c>ResNet(block, layers, num_classes, zero_init_residual, groups, width_per_group, replace_stride_with_dilation, norm_layer)</c>,
/// called through its named builder when one fits (<c>torchvision.models.resnet18</c>...), plus at most three
/// documented edits after construction: a new <c>conv1</c> for another number of input channels or for the
/// <see cref="StemKind.Cifar"/> stem (3x3, stride 1; with the kaiming-normal fan-out initialisation torchvision gives
/// its convolutions), and <c>model.maxpool = torch.nn.Identity()</c> for that stem.</para>
/// <para>Every option of <see cref="ResNetOptions"/>, <see cref="StageOptions"/> and <see cref="BlockOptions"/> maps
/// as follows; anything else is reported in <see cref="TorchvisionPortabilityResult.NonPortableOptions"/> with its
/// name and value:</para>
/// <list type="bullet">
/// <item><see cref="ResNetOptions.Stem"/>: <see cref="StemKind.ImageNet"/> as is, <see cref="StemKind.Cifar"/> by the edits
/// above; <see cref="StemKind.Deep"/> is not portable. <see cref="ResNetOptions.StemWidth"/> must be 64.</item>
/// <item><see cref="ResNetOptions.InputChannels"/>: 3 as is, any other count by the <c>conv1</c> edit.
/// <see cref="ResNetOptions.NumClasses"/>: <c>num_classes</c>. <see cref="ResNetOptions.Head"/> must be
/// <see cref="HeadKind.AveragePoolLinear"/>.</item>
/// <item><see cref="ResNetOptions.Stages"/>: four stages of 64, 128, 256 and 512 planes with strides 1, 2, 2, 2 (the
/// block counts are <c>layers</c>), all of kind <see cref="BlockKind.Basic"/> or all <see cref="BlockKind.Bottleneck"/>;
/// <see cref="StageOptions.Dilate"/> on stages 2 to 4 is <c>replace_stride_with_dilation</c> (bottlenecks only, as in
/// torchvision; on stage 1, whose stride is 1, it changes nothing); <see cref="StageOptions.Options"/> must be null or
/// equal to <see cref="ResNetOptions.Block"/> (torchvision uses one set of block arguments).</item>
/// <item><see cref="BlockOptions.Groups"/> and <see cref="BlockOptions.BaseWidth"/> times
/// <see cref="BlockOptions.WidthMultiplier"/>: <c>groups</c> and <c>width_per_group</c> of bottlenecks (the product must
/// give torchvision's inner width in every stage); basic blocks need 1, 64 and 1.
/// <see cref="BlockOptions.ZeroInitLastNorm"/>: <c>zero_init_residual</c>. <see cref="BlockOptions.Norm"/>:
/// <see cref="NormFactory.BatchNorm"/> (the default), <see cref="NormFactory.GroupNorm"/> and
/// <see cref="NormFactory.None"/> as <c>norm_layer</c>; custom factories are not portable.</item>
/// <item>Not portable: an activation other than <see cref="ActivationFactory.ReLU"/>, a plain twin
/// (<see cref="BlockOptions.HasShortcut"/> false), a shortcut other than <see cref="ShortcutKind.Projection"/>,
/// squeeze-and-excitation, drop path, <see cref="BlockOptions.Dilation"/> other than 1, and
/// <see cref="BlockOptions.StrideOnFirstConv"/> on a bottleneck that has a stride.
/// <see cref="BlockOptions.SqueezeExcitationReduction"/> matters only with squeeze-and-excitation.</item>
/// </list>
/// </remarks>
public static class TorchvisionPortability
{
    private const long TorchvisionStemWidth = 64;
    private static readonly long[] TorchvisionPlanes = [64, 128, 256, 512];
    private static readonly long[] TorchvisionStrides = [1, 2, 2, 2];

    /// <summary>The named builders of torchvision's ResNet family, by block kind, layers, groups and width per group.</summary>
    private static readonly (string Name, BlockKind Kind, int[] Layers, int Groups, int WidthPerGroup)[] NamedBuilders =
    [
        ("resnet18", BlockKind.Basic, [2, 2, 2, 2], 1, 64),
        ("resnet34", BlockKind.Basic, [3, 4, 6, 3], 1, 64),
        ("resnet50", BlockKind.Bottleneck, [3, 4, 6, 3], 1, 64),
        ("resnet101", BlockKind.Bottleneck, [3, 4, 23, 3], 1, 64),
        ("resnet152", BlockKind.Bottleneck, [3, 8, 36, 3], 1, 64),
        ("resnext50_32x4d", BlockKind.Bottleneck, [3, 4, 6, 3], 32, 4),
        ("resnext101_32x8d", BlockKind.Bottleneck, [3, 4, 23, 3], 32, 8),
        ("resnext101_64x4d", BlockKind.Bottleneck, [3, 4, 23, 3], 64, 4),
        ("wide_resnet50_2", BlockKind.Bottleneck, [3, 4, 6, 3], 1, 128),
        ("wide_resnet101_2", BlockKind.Bottleneck, [3, 4, 23, 3], 1, 128),
    ];

    /// <summary>
    /// Checks whether <paramref name="options"/> has a torchvision equivalent and, when it has, returns the Python
    /// constructor and the edits that build it.
    /// </summary>
    /// <param name="options">The network description; validated first.</param>
    /// <returns>The verdict: <see cref="TorchvisionPortabilityResult.IsPortable"/>, the constructor text and edits, or
    /// every option that has no equivalent, each with its name and value.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The options are invalid (see <see cref="ResNetOptions.Validate"/>).</exception>
    public static TorchvisionPortabilityResult Check(ResNetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var issues = new List<NonPortableOption>();
        var block = options.Block;

        // Stem and head.
        if (options.Stem == StemKind.Deep)
        {
            issues.Add(new("Stem", "Deep", "torchvision's stem is one convolution (the deep ResNet-C stem is timm's resnet*d)"));
        }

        if (options.StemWidth != TorchvisionStemWidth)
        {
            issues.Add(new("StemWidth", Text(options.StemWidth), "torchvision's stem has 64 channels"));
        }

        if (options.Head != HeadKind.AveragePoolLinear)
        {
            issues.Add(new("Head", options.Head.ToString(), "torchvision's ResNet always ends with average pooling, flatten and fc"));
        }

        // Stages: the layout, the block kind, dilation and per-stage overrides.
        var stages = options.Stages;
        bool layoutMatches = stages.Count == TorchvisionPlanes.Length
            && stages.Select(s => s.Planes).SequenceEqual(TorchvisionPlanes)
            && stages.Select(s => s.Stride).SequenceEqual(TorchvisionStrides);
        if (!layoutMatches)
        {
            issues.Add(new("Stages", DescribeLayout(stages),
                "torchvision's ResNet has 4 stages of 64, 128, 256 and 512 planes with strides 1, 2, 2, 2"));
        }

        var kinds = stages.Select(s => s.Kind).Distinct().ToArray();
        BlockKind? kind = kinds.Length == 1 && kinds[0] is BlockKind.Basic or BlockKind.Bottleneck ? kinds[0] : null;
        if (kind is null)
        {
            // Name the pre-activation stages, or else the stages whose kind differs from the first stage's.
            bool preActivation = kinds.Any(k => k.IsPreActivation());
            AddPerStage(issues, stages, (s, _) => preActivation ? s.Kind.IsPreActivation() : s.Kind != stages[0].Kind, s => s.Kind.ToString(), "Kind",
                preActivation
                    ? "torchvision has no pre-activation blocks"
                    : "torchvision uses one block kind (BasicBlock or Bottleneck) in every stage");
        }

        bool[] dilate = stages.Select((s, i) => i > 0 && s.Dilate).ToArray();
        if (kind == BlockKind.Basic && dilate.Any(d => d))
        {
            AddPerStage(issues, stages, (s, i) => dilate[i], _ => "True", "Dilate",
                "torchvision's BasicBlock does not support dilation (replace_stride_with_dilation needs bottlenecks)");
        }

        AddPerStage(issues, stages, (s, _) => s.Options is not null && s.Options != block, _ => "BlockOptions other than ResNetOptions.Block", "Options",
            "torchvision builds every stage with the same block arguments (ResNetOptions.Block)");

        // Block options.
        bool bottleneck = kind == BlockKind.Bottleneck;
        int? widthPerGroup = kind is null ? null : CheckWidth(block, bottleneck, issues);
        if (!ReferenceEquals(block.Activation, ActivationFactory.ReLU))
        {
            issues.Add(new("Block.Activation", block.Activation.Name, "torchvision's ResNet uses ReLU everywhere"));
        }

        string? normLayer = NormLayer(block.Norm);
        if (normLayer is null)
        {
            issues.Add(new("Block.Norm", block.Norm.Name,
                "only BatchNorm, GroupNorm(g) and None have a torchvision norm_layer; a custom factory is unknown to Python"));
        }

        if (!block.HasShortcut)
        {
            issues.Add(new("Block.HasShortcut", "False", "a plain twin: torchvision's blocks always add their shortcut"));
        }
        else if (block.Shortcut != ShortcutKind.Projection)
        {
            issues.Add(new("Block.Shortcut", block.Shortcut.ToString(),
                block.Shortcut == ShortcutKind.ZeroPad
                    ? "option A (zero padding, CIFAR ResNets): torchvision's shortcuts are 1x1 projections (option B)"
                    : "torchvision's shortcuts where the shape changes are 1x1 projections plus normalisation"));
        }

        if (block.SqueezeExcitation)
        {
            issues.Add(new("Block.SqueezeExcitation", "True", "torchvision's ResNet blocks have no squeeze-and-excitation"));
        }

        if (block.DropPathRate > 0)
        {
            issues.Add(new("Block.DropPathRate", Text(block.DropPathRate),
                "torchvision's ResNet has no stochastic depth: PyTorch training would silently differ"));
        }

        if (block.Dilation != 1)
        {
            issues.Add(new("Block.Dilation", Text(block.Dilation),
                "torchvision dilates only through replace_stride_with_dilation (StageOptions.Dilate)"));
        }

        bool anyStridedBlock = stages.Any(s => s.Stride > 1 && !s.Dilate);
        if (bottleneck && block.StrideOnFirstConv && anyStridedBlock)
        {
            issues.Add(new("Block.StrideOnFirstConv", "True", "torchvision's bottleneck strides its 3x3 convolution (ResNet v1.5), not the first 1x1"));
        }

        if (issues.Count > 0 || kind is not { } blockKind || widthPerGroup is not { } width || normLayer is null)
        {
            return new TorchvisionPortabilityResult(null, [], issues);
        }

        // The constructor: a named builder when one fits, else the ResNet class itself.
        int[] layers = stages.Select(s => s.Blocks).ToArray();
        var named = NamedBuilders.FirstOrDefault(b =>
            b.Kind == blockKind && b.Layers.SequenceEqual(layers) && b.Groups == block.Groups && b.WidthPerGroup == width);
        var arguments = new List<string>();
        if (named.Name is null)
        {
            arguments.Add(blockKind == BlockKind.Basic ? "torchvision.models.resnet.BasicBlock" : "torchvision.models.resnet.Bottleneck");
            arguments.Add("[" + string.Join(", ", layers.Select(l => Text(l))) + "]");
        }

        if (options.NumClasses != 1000)
        {
            arguments.Add("num_classes=" + Text(options.NumClasses));
        }

        if (block.ZeroInitLastNorm && !block.Norm.IsIdentity)
        {
            arguments.Add("zero_init_residual=True");
        }

        if (named.Name is null && block.Groups != 1)
        {
            arguments.Add("groups=" + Text(block.Groups));
        }

        if (named.Name is null && width != 64)
        {
            arguments.Add("width_per_group=" + Text(width));
        }

        if (dilate.Any(d => d))
        {
            arguments.Add("replace_stride_with_dilation=[" + string.Join(", ", dilate.Skip(1).Select(d => d ? "True" : "False")) + "]");
        }

        if (normLayer.Length > 0)
        {
            arguments.Add("norm_layer=" + normLayer);
        }

        string function = named.Name is null ? "torchvision.models.resnet.ResNet" : "torchvision.models." + named.Name;
        string constructor = $"{function}({string.Join(", ", arguments)})";

        var edits = new List<string>();
        if (options.InputChannels != 3 || options.Stem == StemKind.Cifar)
        {
            string geometry = options.Stem == StemKind.Cifar ? "kernel_size=3, stride=1, padding=1" : "kernel_size=7, stride=2, padding=3";
            edits.Add($"model.conv1 = torch.nn.Conv2d({Text(options.InputChannels)}, 64, {geometry}, bias=False)");
            edits.Add("torch.nn.init.kaiming_normal_(model.conv1.weight, mode=\"fan_out\", nonlinearity=\"relu\")");
        }

        if (options.Stem == StemKind.Cifar)
        {
            edits.Add("model.maxpool = torch.nn.Identity()");
        }

        return new TorchvisionPortabilityResult(constructor, edits, []);
    }

    /// <summary>torchvision's <c>width_per_group</c> for the block options, or null (with an issue) when there is none.</summary>
    private static int? CheckWidth(BlockOptions block, bool bottleneck, List<NonPortableOption> issues)
    {
        if (!bottleneck)
        {
            // BasicBlock in torchvision accepts only groups = 1 and base_width = 64, and has no width factor.
            int before = issues.Count;
            if (block.Groups != 1)
            {
                issues.Add(new("Block.Groups", Text(block.Groups), "torchvision's BasicBlock supports only groups=1"));
            }

            if (block.BaseWidth != 64)
            {
                issues.Add(new("Block.BaseWidth", Text(block.BaseWidth), "torchvision's BasicBlock supports only width_per_group=64"));
            }

            if (block.WidthMultiplier != 1.0)
            {
                issues.Add(new("Block.WidthMultiplier", Text(block.WidthMultiplier), "torchvision's BasicBlock has no width factor"));
            }

            return issues.Count == before ? 64 : null;
        }

        // A bottleneck's inner width here is floor(planes * BaseWidth / 64 * WidthMultiplier) * Groups; torchvision's is
        // int(planes * (width_per_group / 64.0)) * groups. Portable when some integer width_per_group gives the same
        // width in every stage.
        double product = block.BaseWidth * block.WidthMultiplier;
        int candidate = (int)Math.Round(product);
        bool same = Math.Abs(product - candidate) < 1e-9 && candidate >= 1
            && TorchvisionPlanes.All(p => DotNetBottleneckWidth(p, block) == (long)(p * (candidate / 64.0)) * block.Groups);
        if (!same)
        {
            issues.Add(new("Block.WidthMultiplier", Text(block.WidthMultiplier),
                $"BaseWidth {Text(block.BaseWidth)} x WidthMultiplier {Text(block.WidthMultiplier)} is no integer width_per_group that gives the same bottleneck widths"));
            return null;
        }

        return candidate;
    }

    private static long DotNetBottleneckWidth(long planes, BlockOptions block)
    {
        try
        {
            return ResidualBlockBase.BottleneckWidth(planes, block);
        }
        catch (ArgumentOutOfRangeException)
        {
            return 0; // no inner width at all: the network cannot be built, let alone ported
        }
    }

    /// <summary>The <c>norm_layer</c> argument ("" for BatchNorm, torchvision's default), or null when there is none.</summary>
    private static string? NormLayer(NormFactory norm)
    {
        if (ReferenceEquals(norm, NormFactory.BatchNorm))
        {
            return string.Empty;
        }

        if (ReferenceEquals(norm, NormFactory.None))
        {
            return "torch.nn.Identity";
        }

        return norm.GroupNormGroups is { } groups ? $"lambda channels: torch.nn.GroupNorm({Text(groups)}, channels)" : null;
    }

    private static void AddPerStage(List<NonPortableOption> issues, IReadOnlyList<StageOptions> stages, Func<StageOptions, int, bool> offends,
        Func<StageOptions, string> value, string property, string reason)
    {
        var offending = stages.Select((s, i) => (Stage: s, Index: i)).Where(x => offends(x.Stage, x.Index)).ToList();
        foreach (var group in offending.GroupBy(x => value(x.Stage)))
        {
            issues.Add(new($"Stages[{string.Join(",", group.Select(x => Text(x.Index)))}].{property}", group.Key, reason));
        }
    }

    private static string DescribeLayout(IReadOnlyList<StageOptions> stages) =>
        $"{Text(stages.Count)} stage(s) of {string.Join(", ", stages.Select(s => Text(s.Planes)))} planes with strides {string.Join(", ", stages.Select(s => Text(s.Stride)))}";

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>An option that has no torchvision equivalent.</summary>
/// <param name="Name">The option's path in <see cref="ResNetOptions"/>, for example <c>Block.HasShortcut</c> or
/// <c>Stages[0,1,2].Kind</c>.</param>
/// <param name="Value">The value found, as text.</param>
/// <param name="Reason">Why torchvision cannot rebuild it.</param>
public sealed record NonPortableOption(string Name, string Value, string Reason)
{
    /// <summary><c>Name = Value (Reason)</c>.</summary>
    public override string ToString() => $"{Name} = {Value} ({Reason})";
}

/// <summary>What <see cref="TorchvisionPortability.Check"/> found for one <see cref="ResNetOptions"/>.</summary>
public sealed class TorchvisionPortabilityResult
{
    internal TorchvisionPortabilityResult(string? constructor, IReadOnlyList<string> edits, IReadOnlyList<NonPortableOption> nonPortableOptions)
    {
        Constructor = constructor;
        Edits = edits;
        NonPortableOptions = nonPortableOptions;
    }

    /// <summary>True when torchvision builds the same network (same state_dict keys and shapes, same forward).</summary>
    public bool IsPortable => NonPortableOptions.Count == 0;

    /// <summary>The Python expression that builds the network, for example <c>torchvision.models.resnet18(num_classes=10)</c>;
    /// null when the network is not portable.</summary>
    public string? Constructor { get; }

    /// <summary>Python statements to run after <c>model = </c><see cref="Constructor"/>, in order (for example a new
    /// <c>conv1</c> for one input channel); empty when none are needed or the network is not portable.</summary>
    public IReadOnlyList<string> Edits { get; }

    /// <summary>Every option without a torchvision equivalent, each with its name and value; empty when portable.</summary>
    public IReadOnlyList<NonPortableOption> NonPortableOptions { get; }

    /// <summary>
    /// A runnable Python snippet that leaves the network in a variable <c>model</c>: the imports, <c>model = </c>
    /// <see cref="Constructor"/>, then the <see cref="Edits"/>, one statement a line. Null when not portable.
    /// </summary>
    public string? PythonCode => Constructor is null
        ? null
        : string.Join("\n", new[] { "import torch", "import torchvision", $"model = {Constructor}" }.Concat(Edits)) + "\n";

    /// <summary>Throws when the network is not portable, naming every non-portable option and its value.</summary>
    /// <exception cref="ArgumentException">Not portable; <see cref="ArgumentException.ParamName"/> is <c>options</c>.</exception>
    public void ThrowIfNotPortable()
    {
        if (!IsPortable)
        {
            throw new ArgumentException(
                $"These options have no torchvision equivalent: {string.Join("; ", NonPortableOptions)}.", "options");
        }
    }

    /// <summary>The constructor and edits, or the non-portable options.</summary>
    public override string ToString() => IsPortable
        ? string.Join("; ", new[] { Constructor! }.Concat(Edits))
        : "not portable: " + string.Join("; ", NonPortableOptions.Select(o => $"{o.Name} = {o.Value}"));
}
