namespace ResidualNet.Blocks;

/// <summary>
/// Implemented by every residual block of the library (and by its plain twin), so that tools such as the
/// gradient-flow monitor can find the blocks of any network without knowing their concrete types.
/// A user's own block can implement it too.
/// </summary>
public interface IResidualBlock
{
    /// <summary>
    /// Whether the block adds its shortcut to the residual branch (<c>x + F(x)</c>); false for a plain twin,
    /// which computes <c>F(x)</c> with the same layers.
    /// </summary>
    bool HasShortcut { get; }
}
