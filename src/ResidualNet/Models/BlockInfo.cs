using ResidualNet.Blocks;
using static TorchSharp.torch;

namespace ResidualNet.Models;

/// <summary>One block of a <see cref="ResNet"/>, as listed by <see cref="ResNet.Blocks"/>.</summary>
/// <param name="Name">Qualified module name, for example <c>"layer2.0"</c> (the state-dict prefix).</param>
/// <param name="StageIndex">Zero-based stage index (<c>layer1</c> is 0).</param>
/// <param name="IndexInStage">Zero-based position in the stage.</param>
/// <param name="Module">The block module (register hooks on it).</param>
public sealed record BlockInfo(string Name, int StageIndex, int IndexInStage, nn.Module<Tensor, Tensor> Module)
{
    /// <summary>The block seen through <see cref="IResidualBlock"/>.</summary>
    public IResidualBlock Block => (IResidualBlock)Module;

    /// <summary>Whether the block adds its shortcut.</summary>
    public bool HasShortcut => Block.HasShortcut;
}
