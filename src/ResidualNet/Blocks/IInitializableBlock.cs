namespace ResidualNet.Blocks;

/// <summary>Lets a network finish the initialisation of the blocks it built (zero-init of the last norm).</summary>
internal interface IInitializableBlock
{
    /// <summary>Applies <see cref="BlockOptions.ZeroInitLastNorm"/> when it is set.</summary>
    void ApplyZeroInit();
}
