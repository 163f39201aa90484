using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.TestSupport;
using ResidualNet.UnitTests.Fuzzing;
using ResidualNet.Weights;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Weights;

/// <summary>
/// Issue 14, the long weights fuzzer's memory finding: a <c>.pt</c> whose pickle declares a string far longer than the
/// pickle holds made the unpickler allocate the declared length (1.4-1.6 GB for an 11 KB file) before reporting the
/// truncation. The declared lengths are now compared with the bytes present before anything is unpickled.
/// </summary>
public class PickleLengthTests
{
    /// <summary>What a refused load may allocate on the managed heap; the forged claim is 1.5 GiB.</summary>
    private const long AllocationBoundBytes = 64L << 20;

    [Fact]
    public void PtWhosePickleDeclaresAHugeString_IsAWeightsFileException_WithoutAllocatingTheClaim()
    {
        using var folder = new TempFolder();
        string path = folder.File("forged.pt");
        const uint claimed = 0x6000_0000; // 1.5 GiB
        using (var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create))
        {
            using var pickle = new BinaryWriter(zip.CreateEntry("archive/data.pkl").Open());
            // PROTO 2, EMPTY_DICT, BINPUT 0, MARK, BINUNICODE with a forged length followed by 6 bytes, then STOP.
            pickle.Write([0x80, 0x02, (byte)'}', (byte)'q', 0x00, (byte)'(', (byte)'X']);
            pickle.Write(claimed);
            pickle.Write("conv1."u8.ToArray());
            pickle.Write((byte)'.');
        }

        using var scope = NewDisposeScope();
        using var net = ModelRegistry.Default.Create("resnet20");
        var before = net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var load = () => ModelWeights.Load(net, path);
        var thrown = load.Should().Throw<WeightsFileException>().Which;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        allocated.Should().BeLessThan(AllocationBoundBytes, $"the file claims {claimed} bytes and holds {new FileInfo(path).Length}");
        thrown.FilePath.Should().Be(path);
        thrown.Message.Should().Match($"*declares {claimed} bytes*but only 7 follow*");
        net.state_dict().Should().OnlyContain(kv => kv.Value.equal(before[kv.Key]).all().item<bool>());
    }

    [Theory]
    [InlineData(334)]
    [InlineData(1708)]
    public void LongFuzzerCases_AreTyped_WithoutAllocatingTheirClaims(int index)
    {
        // The two cases of the long weights fuzzer (seed 14) that raised the peak by 1.4-1.7 GB: bit flips inside the
        // deflated pickle turned a BINUNICODE length into 1,702,453,536 and 1,476,853,768 bytes.
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        string outcome = WeightsFuzzer.Case(FuzzTests.Seed, index);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        outcome.Should().StartWith("Typed WeightsFileException");
        allocated.Should().BeLessThan(AllocationBoundBytes);
    }

    [Theory]
    [InlineData(0x0100_0000)] // [16777216, 3, 3, 3] float32: 1.8 GB, allocated (not touched) by the old reader
    [InlineData(0x1000_0000)] // [268435456, 3, 3, 3] float32: 29 GB, a raw ExternalException from libtorch's allocator before
    public void PtWhoseTensorDeclaresAHugeShape_IsAWeightsFileException_BeforeAllocatingIt(int firstDimension)
    {
        using var folder = new TempFolder();
        string path = folder.File("shape.pt");
        using (var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create))
        {
            using (var version = new StreamWriter(zip.CreateEntry("archive/version").Open()))
            {
                version.Write("3\n");
            }

            using (var storage = new BinaryWriter(zip.CreateEntry("archive/data/0").Open()))
            {
                storage.Write(new byte[4 * 4]); // 4 float32 elements
            }

            using var pickle = new BinaryWriter(zip.CreateEntry("archive/data.pkl").Open());
            // {'w': torch._utils._rebuild_tensor_v2(storage('0', FloatStorage, 4 elements), 0, (n, 3, 3, 3), (27, 9, 3, 1), False, OrderedDict())}
            pickle.Write([0x80, 0x02, (byte)'}', (byte)'q', 0x00, (byte)'(', (byte)'X', 1, 0, 0, 0, (byte)'w']);
            pickle.Write("ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray());
            pickle.Write([(byte)'(', (byte)'(', (byte)'X', 7, 0, 0, 0, .. "storage"u8.ToArray()]);
            pickle.Write("ctorch\nFloatStorage\n"u8.ToArray());
            pickle.Write([(byte)'X', 1, 0, 0, 0, (byte)'0', (byte)'X', 3, 0, 0, 0, .. "cpu"u8.ToArray(), (byte)'K', 4, (byte)'t', (byte)'Q']);
            pickle.Write([(byte)'K', 0, (byte)'(', (byte)'J']);
            pickle.Write(firstDimension);
            pickle.Write([(byte)'K', 3, (byte)'K', 3, (byte)'K', 3, (byte)'t']);
            pickle.Write([(byte)'(', (byte)'K', 27, (byte)'K', 9, (byte)'K', 3, (byte)'K', 1, (byte)'t', 0x89]);
            pickle.Write("ccollections\nOrderedDict\n"u8.ToArray());
            pickle.Write([(byte)')', (byte)'R', (byte)'t', (byte)'R', (byte)'u', (byte)'.']);
        }

        // The allocation is native (torch.empty of the declared shape), invisible to the GC's counters: what shows the
        // check ran before it is the message, which only the comparison of the shape with the storage entry makes (the
        // old reader allocated, then failed reading with EndOfStreamException, or failed allocating with a raw
        // ExternalException).
        using var scope = NewDisposeScope();
        var read = () => ModelWeights.ReadEntries(path);
        var thrown = read.Should().Throw<WeightsFileException>().Which;
        thrown.FilePath.Should().Be(path);
        thrown.Message.Should().Match($"*'w' declares [{firstDimension}, 3, 3, 3] Float32*but its storage entry holds 16 bytes*");
    }
}
