using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.Performance;
using ResidualNet.Weights;
using ResidualNet.TestSupport;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Weights;

/// <summary>Issue 14, defects 4, 8 and 9 (weights): typed errors with the path and the reason; no load into a folded
/// or disposed model.</summary>
public class WeightsReliabilityTests
{
    [Fact]
    public void Defect4_NonStrictLoadIntoAFoldedModel_IsRefused_AndTheModelIsUnchanged()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        using var source = ModelRegistry.Default.Create("resnet20");
        string path = folder.File("w.safetensors");
        ModelWeights.Save(source, path);
        using var net = ModelRegistry.Default.Create("resnet20");
        net.eval();
        net.FoldBatchNorms();
        var before = net.state_dict().Values.Select(t => t.clone()).ToList();
        var act = () => ModelWeights.Load(net, path, new WeightsLoadOptions { Strict = false });
        act.Should().Throw<InvalidOperationException>().WithMessage("*folded*Load into an unfolded model*");
        net.state_dict().Values.Zip(before).Should().OnlyContain(p => p.First.equal(p.Second).all().item<bool>());
    }

    [Fact]
    public void Defect8_NegativeDimensionInATorchSharpFile_IsAWeightsFileException()
    {
        using var folder = new TempFolder();
        string path = folder.File("neg.bin");
        // One entry "w": dtype Float32 (6), rank 2, dims -1 and -4 as 10-byte LEB128 (bit 63 set).
        using (var writer = new BinaryWriter(File.Create(path)))
        {
            writer.Write((byte)1);
            writer.Write("w");
            writer.Write((byte)6);
            writer.Write((byte)2);
            foreach (long dim in new long[] { -1, -4 })
            {
                ulong v = unchecked((ulong)dim);
                for (int i = 0; i < 10; i++, v >>= 7)
                {
                    writer.Write((byte)((v & 0x7F) | (i < 9 ? 0x80u : 0u)));
                }
            }
        }

        var read = () => ModelWeights.ReadEntries(path, WeightsFormat.TorchSharp);
        read.Should().Throw<WeightsFileException>().Where(e => e.FilePath == path).WithMessage("*negative size -1*");
        using var net = ModelRegistry.Default.Create("resnet20");
        var load = () => ModelWeights.Load(net, path, new WeightsLoadOptions { Format = WeightsFormat.TorchSharp });
        load.Should().Throw<WeightsFileException>();
    }

    [Fact]
    public void Defect8_NegativeDimensionInASafetensorsHeader_IsAWeightsFileException()
    {
        using var folder = new TempFolder();
        string path = folder.File("neg.safetensors");
        byte[] header = System.Text.Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,-4],\"data_offsets\":[0,16]}}");
        using (var stream = File.Create(path))
        {
            stream.Write(BitConverter.GetBytes((ulong)header.Length));
            stream.Write(header);
            stream.Write(new byte[16]);
        }

        var read = () => ModelWeights.ReadEntries(path);
        read.Should().Throw<WeightsFileException>().WithMessage("*negative size -1*");
    }

    [Fact]
    public void Defect8_SaveToADirectory_IsAnArgumentExceptionNamingThePath()
    {
        using var folder = new TempFolder();
        using var net = ModelRegistry.Default.Create("resnet20");
        var act = () => ModelWeights.Save(net, folder.Path);
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "path").WithMessage($"*'{folder.Path}' is a directory*");
    }

    [Fact]
    public void Defect9_DisposedModels_AreObjectDisposed_ForLoadCompareAndSave()
    {
        using var folder = new TempFolder();
        string path = folder.File("w.safetensors");
        using (var source = ModelRegistry.Default.Create("resnet20"))
        {
            ModelWeights.Save(source, path);
        }

        var net = ModelRegistry.Default.Create("resnet20");
        net.Dispose();
        ((Action)(() => ModelWeights.Load(net, path))).Should().Throw<ObjectDisposedException>().WithMessage("*ResNet*disposed*");
        ((Action)(() => ModelWeights.Compare(net, path))).Should().Throw<ObjectDisposedException>();
        ((Action)(() => ModelWeights.Save(net, folder.File("x.pt")))).Should().Throw<ObjectDisposedException>();
    }
}
