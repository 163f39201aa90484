using System;
using System.Collections.Generic;

namespace ResidualNet.Diagnostics;

/// <summary>
/// Turns the values a <see cref="GradientFlowMonitor"/> gathered for one step (read back to the host) into per-block
/// statistics. Pure arithmetic on numbers: no tensor, so it is tested on its own.
/// </summary>
internal static class GradientFlowStatistics
{
    /// <summary>Builds one <see cref="BlockGradientStats"/> per block.</summary>
    /// <param name="blockNames">The monitored blocks' names; their count is the number of blocks.</param>
    /// <param name="samples">What each value is (block, kind, elements).</param>
    /// <param name="values">The values, index for index with <paramref name="samples"/>; may be longer (the rest is ignored).</param>
    /// <param name="keepsShape">Per block, whether its output had its input's shape; null when not seen.</param>
    /// <returns>The statistics, in block order.</returns>
    /// <remarks>
    /// A block called several times in one step has one gradient value per call: the norms combine as the root of the
    /// sum of squares. Its activation statistics are those of its last call (the monitor keeps only those). The
    /// standard deviation is the unbiased one, from the mean and from <c>E[x^2] = ||x||^2 / n</c>; the zero fraction is
    /// <c>1 - nonzero / n</c>.
    /// </remarks>
    public static List<BlockGradientStats> Blocks(
        IReadOnlyList<string> blockNames, IReadOnlyList<BlockSample> samples, ReadOnlySpan<float> values, IReadOnlyList<bool?> keepsShape)
    {
        int count = blockNames.Count;
        var inputSquares = new double?[count];
        var outputSquares = new double?[count];
        var mean = new double?[count];
        var meanSquares = new double?[count];
        var zeros = new double?[count];
        var elementsOf = new long[count];
        for (int i = 0; i < samples.Count; i++)
        {
            var (block, kind, elements) = samples[i];
            double value = values[i];
            switch (kind)
            {
                case BlockSampleKind.InputGradient:
                    inputSquares[block] = (inputSquares[block] ?? 0) + value * value;
                    break;
                case BlockSampleKind.OutputGradient:
                    outputSquares[block] = (outputSquares[block] ?? 0) + value * value;
                    break;
                case BlockSampleKind.ActivationMean:
                    mean[block] = value;
                    break;
                case BlockSampleKind.ActivationNorm:
                    meanSquares[block] = value * value / elements;
                    break;
                case BlockSampleKind.ActivationNonZero:
                    elementsOf[block] = elements;
                    zeros[block] = 1.0 - value / elements;
                    break;
            }
        }

        var result = new List<BlockGradientStats>(count);
        for (int b = 0; b < count; b++)
        {
            ActivationStats? activation = null;
            if (mean[b] is { } m && meanSquares[b] is { } meanSquare && zeros[b] is { } z)
            {
                // Unbiased variance from E[x^2] and the mean: n / (n - 1) * (E[x^2] - mean^2).
                double n = elementsOf[b];
                double variance = n > 1 ? Math.Max(0, meanSquare - m * m) * n / (n - 1) : double.NaN;
                activation = new ActivationStats(m, Math.Sqrt(variance), z);
            }

            result.Add(new BlockGradientStats(blockNames[b], b, Sqrt(inputSquares[b]), Sqrt(outputSquares[b]), activation)
            {
                KeepsShape = keepsShape[b],
            });
        }

        return result;
    }

    private static double? Sqrt(double? square) => square is { } s ? Math.Sqrt(s) : null;
}
