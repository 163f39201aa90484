using System;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Fuzzing;

/// <summary>Random builder/option configurations, valid and invalid mixed: a network that runs forward and backward
/// on a small input, or an ArgumentException naming the parameter.</summary>
internal static class BuilderFuzzer
{
    private static readonly long[] BadLongs = [0, -1, long.MinValue, int.MaxValue, 1L << 40, long.MaxValue];
    private static readonly int[] BadInts = [0, -1, int.MinValue, int.MaxValue, 10_001];

    internal static string Case(int seed, int index)
    {
        var r = Mutations.For(seed, index);
        long L(long[] good) => r.NextDouble() < 0.015 ? BadLongs[r.Next(BadLongs.Length)] : good[r.Next(good.Length)];
        int I(int[] good) => r.NextDouble() < 0.015 ? BadInts[r.Next(BadInts.Length)] : good[r.Next(good.Length)];
        double D(double[] good, double[] bad) => r.NextDouble() < 0.015 ? bad[r.Next(bad.Length)] : good[r.Next(good.Length)];
        T E<T>(int invalid) where T : struct, Enum
        {
            var values = Enum.GetValues<T>();
            return r.NextDouble() < 0.01 ? (T)(object)invalid : values[r.Next(values.Length)];
        }

        ActivationFactory[] activations = [ActivationFactory.ReLU, ActivationFactory.Tanh, ActivationFactory.GELU, ActivationFactory.SiLU, ActivationFactory.LeakyReLU];
        BlockOptions Block()
        {
            int groupNorm = 1 << r.Next(3);
            return new BlockOptions
            {
                Groups = I([1, 1, 1, 2]),
                BaseWidth = I([64, 64, 64, 16]),
                WidthMultiplier = D([1, 1, 0.5, 2], [0, -1, double.NaN, double.PositiveInfinity, 1e12]),
                Dilation = I([1, 1, 2]),
                Activation = activations[r.Next(activations.Length)],
                Norm = r.Next(6) switch { 0 => NormFactory.None, 1 => NormFactory.GroupNorm(groupNorm), _ => NormFactory.BatchNorm },
                Shortcut = E<ShortcutKind>(42),
                HasShortcut = r.Next(8) != 0,
                SqueezeExcitation = r.Next(4) == 0,
                SqueezeExcitationReduction = I([4, 16]),
                DropPathRate = D([0, 0, 0, 0.1], [-0.1, 1, double.NaN]),
                ZeroInitLastNorm = r.Next(2) == 0,
                StrideOnFirstConv = r.Next(2) == 0,
            };
        }

        int stageCount = r.NextDouble() < 0.03 ? 0 : 1 + r.Next(3);
        var stages = Enumerable.Range(0, stageCount).Select(_ => new StageOptions(
            E<BlockKind>(17), I([1, 1, 2]), L([1, 2, 4, 8]), L([1, 2]), r.Next(5) == 0, r.Next(3) == 0 ? Block() : null)).ToArray();
        string description = "options";
        try
        {
            var options = new ResNetOptions
            {
                Stem = E<StemKind>(9),
                StemWidth = L([4, 8]),
                InputChannels = L([1, 3]),
                NumClasses = L([1, 3, 10]),
                Head = r.Next(10) == 0 ? HeadKind.None : HeadKind.AveragePoolLinear,
                Block = Block(),
                Stages = stages,
            };
            description = options.ToString();
            using var scope = NewDisposeScope();
            using var net = new ResNet(options);
            net.train();
            var output = net.call(randn(2, options.InputChannels, 16, 16));
            output.pow(2).mean().backward();
            if (net.parameters().All(p => p.grad is null))
            {
                return $"{FuzzOutcome.Untyped} no gradient reached any parameter: {description}";
            }

            return $"{FuzzOutcome.Valid}";
        }
#pragma warning disable CA1031 // The fuzzer classifies every exception.
        catch (Exception e)
#pragma warning restore CA1031
        {
            string outcome = FuzzHarness.Classify(e, _ => false);
            return outcome.StartsWith(nameof(FuzzOutcome.Untyped), StringComparison.Ordinal) ? $"{outcome} [{description}]" : $"{outcome} {e.Message.Split('.')[0]}";
        }
    }
}
