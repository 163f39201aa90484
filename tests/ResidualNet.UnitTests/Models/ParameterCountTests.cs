using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Models;
using Xunit;

namespace ResidualNet.UnitTests.Models;

/// <summary>Exact parameter and state-dict counts from /work/shared/reference-numbers.md (Python torchvision, He et al.).</summary>
public class ParameterCountTests
{
    [Theory]
    [InlineData("resnet18", 11_689_512, 122)]
    [InlineData("resnet34", 21_797_672, 218)]
    [InlineData("resnet50", 25_557_032, 320)]
    [InlineData("resnext50_32x4d", 25_028_904, 320)]
    public void TorchvisionFamilies(string name, long parameters, int stateDictEntries)
        => CheckCounts(name, parameters, stateDictEntries);

    [Theory]
    [InlineData("resnet101", 44_549_160, 626)]
    [InlineData("resnet152", 60_192_808, 932)]
    [InlineData("resnext101_32x8d", 88_791_336, 626)]
    [InlineData("resnext101_64x4d", 83_455_272, 626)]
    [InlineData("wide_resnet50_2", 68_883_240, 320)]
    [InlineData("wide_resnet101_2", 126_886_696, 626)]
    public void LargeTorchvisionFamilies(string name, long parameters, int stateDictEntries)
        => CheckCounts(name, parameters, stateDictEntries);

    [Theory]
    [InlineData(20, 269_722)]
    [InlineData(32, 464_154)]
    [InlineData(44, 658_586)]
    [InlineData(56, 853_018)]
    [InlineData(110, 1_727_962)]
    [InlineData(1202, 19_421_274)]
    public void CifarResNetsOptionA(int depth, long parameters)
    {
        using var model = ModelRegistry.Default.Create($"resnet{depth}");
        ModelTestUtil.ParameterCount(model).Should().Be(parameters);

        using var viaPreset = new ResNet(ResNetPresets.CifarResNet(depth));
        ModelTestUtil.ParameterCount(viaPreset).Should().Be(parameters);
    }

    [Theory]
    [InlineData(20, 269_722)]
    [InlineData(32, 464_154)]
    [InlineData(44, 658_586)]
    [InlineData(56, 853_018)]
    [InlineData(110, 1_727_962)]
    [InlineData(1202, 19_421_274)]
    public void CifarResNetsOptionBAdd2752(int depth, long optionAParameters)
    {
        using var model = new ResNet(ResNetPresets.CifarResNet(depth, ShortcutKind.Projection));
        ModelTestUtil.ParameterCount(model).Should().Be(optionAParameters + 2_752);
    }

    [Theory]
    [InlineData("preact_resnet164", 18)]
    [InlineData("preact_resnet1001", 111)]
    public void CifarPreActBottleneckNetworksCountedByFormula(string name, int n)
    {
        using var model = ModelRegistry.Default.Create(name);
        ModelTestUtil.ParameterCount(model).Should().Be(PreActBottleneckCifarFormula(n));
        model.Blocks.Should().HaveCount(3 * n).And.OnlyContain(b => b.Module is PreActBottleneck);
    }

    [Fact]
    public void PreActResNet1001ConvolutionWeightsMatchThePapers10Point2Million()
    {
        // He et al. 2016 quote 10.2M for ResNet-1001; the convolution weights alone round to it
        // (all parameters, with normalisation and fc, are 10.33M).
        using var model = ModelRegistry.Default.Create("preact_resnet1001");
        long convWeights = model.named_parameters().Where(p => p.parameter.Dimensions == 4).Sum(p => p.parameter.numel());
        convWeights.Should().BeInRange(10_150_000, 10_249_999);
    }

    [Fact]
    public void PreActResNet164HasThePapers1Point7MillionParameters()
    {
        using var model = ModelRegistry.Default.Create("preact_resnet164");
        ModelTestUtil.ParameterCount(model).Should().BeInRange(1_650_000, 1_749_999);
        model.Blocks.Should().HaveCount(54);
    }

    [Fact]
    public void PreActResNet110CountedByHand()
    {
        // stem conv 3*16*9 = 432 (no stem norm: the first block normalises);
        // stage 1: 18 * (32 + 2304 + 32 + 2304) = 84,096;
        // stage 2: first block 32 + 4,608 + 64 + 9,216 + projection 512 = 14,432, then 17 * 18,560 = 315,520;
        // stage 3: first block 64 + 18,432 + 128 + 36,864 + projection 2,048 = 57,536, then 17 * 73,984 = 1,257,728;
        // final_norm 128; fc 64 * 10 + 10 = 650.
        using var model = ModelRegistry.Default.Create("preact_resnet110");
        ModelTestUtil.ParameterCount(model).Should().Be(432 + 84_096 + 14_432 + 315_520 + 57_536 + 1_257_728 + 128 + 650);
    }

    /// <summary>Independent count of a CIFAR pre-activation bottleneck network (stages of planes 16, 32, 64).</summary>
    private static long PreActBottleneckCifarFormula(int n)
    {
        long total = 3 * 16 * 9; // stem convolution, no stem norm
        long inChannels = 16;
        foreach (long p in new long[] { 16, 32, 64 })
        {
            for (int b = 0; b < n; b++)
            {
                total += 2 * inChannels + inChannels * p + 2 * p + 9 * p * p + 2 * p + p * 4 * p;
                if (b == 0)
                {
                    total += inChannels * 4 * p; // projection: 1x1 convolution without norm
                }

                inChannels = 4 * p;
            }
        }

        return total + 2 * 256 + 256 * 10 + 10; // final_norm and fc
    }

    private static void CheckCounts(string name, long parameters, int stateDictEntries)
    {
        using var model = ModelRegistry.Default.Create(name);
        ModelTestUtil.ParameterCount(model).Should().Be(parameters);
        model.state_dict().Count.Should().Be(stateDictEntries);
    }
}
