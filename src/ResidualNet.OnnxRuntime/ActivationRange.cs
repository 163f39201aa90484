using System;

namespace ResidualNet.OnnxRuntime;

/// <summary>The calibrated range of one activation tensor, and the scale and zero point derived from it.</summary>
/// <param name="Min">The lower end of the range (at most 0: zero must be exactly representable).</param>
/// <param name="Max">The upper end of the range (at least 0).</param>
/// <param name="Scale">The quantization step: real value = (code - zero point) x scale.</param>
/// <param name="ZeroPoint">The code that stands for 0 (0 for symmetric int8).</param>
public readonly record struct ActivationRange(float Min, float Max, float Scale, int ZeroPoint)
{
    /// <summary>The range, scale and zero point for observed values in [<paramref name="low"/>, <paramref name="high"/>].</summary>
    internal static ActivationRange From(double low, double high, ActivationQuantization type)
    {
        double min = Math.Min(0, low), max = Math.Max(0, high);
        if (type == ActivationQuantization.Int8Symmetric)
        {
            double bound = Math.Max(-min, max);
            float symmetricScale = bound > 0 ? (float)(bound / 127) : 1f;
            return new ActivationRange((float)-bound, (float)bound, symmetricScale, 0);
        }

        if (max - min <= 0)
        {
            return new ActivationRange(0, 0, 1f, 0);
        }

        float scale = (float)((max - min) / 255);
        int zeroPoint = (int)Math.Clamp(Math.Round(-min / scale, MidpointRounding.ToEven), 0, 255);
        return new ActivationRange((float)min, (float)max, scale, zeroPoint);
    }
}
