// A consumer of the ResidualNet package: restores it from a local feed and runs a TorchSharp forward pass.
using ResidualNet.Blocks;
using TorchSharp;

using var conv = torch.nn.Conv2d(3, 8, 3, padding: 1);
using var x = torch.randn(2, 3, 16, 16);
using var y = conv.call(x);
Console.WriteLine($"forward pass: {string.Join('x', y.shape)}; ResidualNet {typeof(IResidualBlock).Assembly.GetName().Version}");
