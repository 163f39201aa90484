namespace ResidualNet.UnitTests.Layering.Probe.High;

/// <summary>A type that the probe below uses only inside a method body.</summary>
internal sealed class Target
{
    public static int Value() => 42;
}
