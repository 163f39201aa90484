using System.Globalization;

namespace ResidualNet.Samples;

/// <summary>Number formats shared by the samples (invariant culture).</summary>
public static class Formats
{
    /// <summary>A fraction as a percentage with two decimals, for example <c>7.51%</c>.</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";
}
