using System;

namespace ResidualNet.Plotting;

/// <summary>The size checks of the plot options.</summary>
internal static class PlotSize
{
    /// <summary>Throws unless <paramref name="value"/> is at least <paramref name="minimum"/>.</summary>
    /// <param name="value">The option's value.</param>
    /// <param name="minimum">The smallest value allowed.</param>
    /// <param name="property">The option's name.</param>
    /// <param name="unit">The unit, for the message.</param>
    /// <exception cref="ArgumentOutOfRangeException">The value is below the minimum.</exception>
    internal static void CheckAtLeast(int value, int minimum, string property, string unit)
    {
        if (value < minimum)
        {
            throw new ArgumentOutOfRangeException(property, value, $"{property} must be at least {minimum} {unit}; got {value}.");
        }
    }
}
