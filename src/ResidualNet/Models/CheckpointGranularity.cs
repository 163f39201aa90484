namespace ResidualNet.Models;

/// <summary>Which parts of a <see cref="ResNet"/> are checkpointed during training.</summary>
public enum CheckpointGranularity
{
    /// <summary>No checkpointing (the default): every activation is kept for the backward.</summary>
    None = 0,

    /// <summary>
    /// Every residual block is a segment: the forward keeps each block's input; the backward recomputes one block
    /// at a time. Least peak memory for the activations inside blocks; one extra forward per step.
    /// </summary>
    Block = 1,

    /// <summary>
    /// About the square root of a stage's block count per segment (Chen et al. 2016): fewer stored inputs, each
    /// recomputation holds a few blocks' activations.
    /// </summary>
    SquareRoot = 2,

    /// <summary>Every stage is one segment: only stage inputs are kept, but a stage's recomputation holds all of its activations.</summary>
    Stage = 3,
}
