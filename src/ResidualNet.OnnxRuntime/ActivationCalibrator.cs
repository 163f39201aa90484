using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace ResidualNet.OnnxRuntime;

/// <summary>
/// Runs the float32 model in ONNX Runtime with the tensors to calibrate added as graph outputs, and reduces what they
/// hold to one range per tensor: min-max in one pass, or a percentile of a fixed-range histogram in a second pass.
/// Deterministic: the ranges depend only on the model, the images, the batch size and the thread count.
/// </summary>
internal sealed class ActivationCalibrator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly IReadOnlyList<string> _tensors;
    private readonly int _inputIndex;

    /// <param name="model">The float32 model (not changed).</param>
    /// <param name="tensors">The tensors to calibrate, by name; may include the graph's input.</param>
    /// <param name="intraOpThreads">ONNX Runtime threads (0: its default).</param>
    internal ActivationCalibrator(ModelProto model, IReadOnlyList<string> tensors, int intraOpThreads)
    {
        _tensors = tensors;
        string input = model.Graph.Input[0].Name;
        _inputIndex = tensors.ToList().IndexOf(input);
        ModelProto observed = model.Clone();
        observed.Graph.Output.Clear();
        foreach (string name in tensors.Where(t => t != input))
        {
            observed.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        _sessionOptions = new SessionOptions { IntraOpNumThreads = intraOpThreads, InterOpNumThreads = 1 };
        _session = new InferenceSession(observed.ToByteArray(), _sessionOptions);
        _inputNames = new[] { input };
        _outputNames = observed.Graph.Output.Select(o => o.Name).ToArray();
    }

    /// <summary>The smallest and largest value of each tensor over all <paramref name="images"/>.</summary>
    internal (double Min, double Max)[] MinMax(Tensor images, int batchSize)
    {
        var ranges = Enumerable.Repeat((Min: double.PositiveInfinity, Max: double.NegativeInfinity), _tensors.Count).ToArray();
        ForEachBatch(images, batchSize, (index, values) =>
        {
            float min = TensorPrimitives.Min(values), max = TensorPrimitives.Max(values);
            if (!float.IsFinite(min) || !float.IsFinite(max))
            {
                throw new ArgumentException($"Tensor '{_tensors[index]}' holds a non-finite value (NaN or infinity) for the calibration images; check the images and the model's weights.", nameof(images));
            }

            ranges[index] = (Math.Min(ranges[index].Min, min), Math.Max(ranges[index].Max, max));
        });
        return ranges;
    }

    /// <summary>
    /// The range keeping <paramref name="percentile"/> percent of each tensor's values, read from a histogram of
    /// <paramref name="bins"/> bins over the tensor's min-max range (of |x| when <paramref name="symmetric"/>).
    /// </summary>
    internal (double Min, double Max)[] Percentile(Tensor images, int batchSize, (double Min, double Max)[] minMax, double percentile, int bins, bool symmetric)
    {
        var histograms = new long[_tensors.Count][];
        var lows = new double[_tensors.Count];
        var highs = new double[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            histograms[i] = new long[bins];
            lows[i] = symmetric ? 0 : minMax[i].Min;
            highs[i] = symmetric ? Math.Max(-minMax[i].Min, minMax[i].Max) : minMax[i].Max;
        }

        ForEachBatch(images, batchSize, (index, values) =>
        {
            long[] counts = histograms[index];
            float low = (float)lows[index];
            double width = highs[index] - lows[index];
            float perUnit = width > 0 ? (float)(bins / width) : 0f;
            foreach (float value in values)
            {
                float x = symmetric ? Math.Abs(value) : value;
                int bin = (int)((x - low) * perUnit);
                counts[Math.Clamp(bin, 0, bins - 1)]++;
            }
        });

        var ranges = new (double Min, double Max)[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            long[] counts = histograms[i];
            double width = (highs[i] - lows[i]) / bins;
            long total = counts.Sum();
            double cut = total * (100 - percentile) / (symmetric ? 100 : 200);
            double high = highs[i];
            long seen = 0;
            for (int b = bins - 1; b >= 0; b--)
            {
                seen += counts[b];
                if (seen > cut)
                {
                    high = lows[i] + ((b + 1) * width);
                    break;
                }
            }

            if (symmetric)
            {
                ranges[i] = (-high, high);
                continue;
            }

            double low = lows[i];
            seen = 0;
            for (int b = 0; b < bins; b++)
            {
                seen += counts[b];
                if (seen > cut)
                {
                    low = lows[i] + (b * width);
                    break;
                }
            }

            ranges[i] = (low, high);
        }

        return ranges;
    }

    /// <summary>Runs every batch and hands each calibrated tensor's values to <paramref name="reduce"/> (tensors in parallel, each by one thread).</summary>
    private void ForEachBatch(Tensor images, int batchSize, Reduction reduce)
    {
        long count = images.shape[0];
        for (long start = 0; start < count; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            Tensor batch = images.narrow(0, start, Math.Min(batchSize, count - start)).contiguous();
            using OrtValue input = OrtTensors.Wrap(batch);
            using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(_runOptions, _inputNames, new[] { input }, _outputNames);
            var failures = new Exception?[_tensors.Count];
            Parallel.For(0, _tensors.Count, i =>
            {
                try
                {
                    int output = _inputIndex < 0 || i < _inputIndex ? i : i - 1;
                    ReadOnlySpan<float> values = i == _inputIndex ? input.GetTensorDataAsSpan<float>() : outputs[output].GetTensorDataAsSpan<float>();
                    reduce(i, values);
                }
                catch (ArgumentException e)
                {
                    failures[i] = e;
                }
            });
            if (failures.FirstOrDefault(f => f is not null) is { } failure)
            {
                ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }
    }

    /// <summary>Reduces the values one calibrated tensor (by index) holds for one batch.</summary>
    private delegate void Reduction(int index, ReadOnlySpan<float> values);

    public void Dispose()
    {
        _session.Dispose();
        _sessionOptions.Dispose();
        _runOptions.Dispose();
    }
}
