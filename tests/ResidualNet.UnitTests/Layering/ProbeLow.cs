namespace ResidualNet.UnitTests.Layering.Probe.Low;

/// <summary>Uses <see cref="High.Target"/> in its body only: no field, parameter or return type names it.</summary>
internal sealed class UsesHighInsideABody
{
    public static int Work(int x) => x + High.Target.Value();
}
