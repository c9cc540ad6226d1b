using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning
{
    /// <summary>
    /// Collects what ops declare, in declaration order: tensors of the flat layout (offsets assigned here and nowhere
    /// else), buffers and named constants. The total is kept in double, so a model too large for int offsets is
    /// counted rather than wrapped; the parser reports it before any plan is emitted.
    /// </summary>
    internal sealed class LayoutBuilder
    {
        private readonly List<TensorPlan> _tensors = new List<TensorPlan>();
        private readonly List<BufferPlan> _buffers = new List<BufferPlan>();
        private readonly List<ConstantPlan> _constants = new List<ConstantPlan>();
        // Constants naming a state tensor's offset, which is only known once every parameter is declared.
        private readonly List<(int Index, string Name, int Relative, string Comment)> _stateOffsets = new List<(int, string, int, string)>();

        /// <summary>Floats in the flat parameter buffer so far (trainable parameters only).</summary>
        public double Total { get; private set; }

        /// <summary>Floats of non-trained state so far; they follow all the parameters in the same buffer.</summary>
        public double StateTotal { get; private set; }

        private int _integers;

        /// <summary>Declares a tensor and returns its offset in the flat buffer.</summary>
        public int Tensor(string name, TensorRole role, int fanIn, params int[] shape) => Tensor(name, role, fanIn, TensorInit.Uniform, shape);

        /// <summary>Declares a trained tensor with the given initialisation and returns its offset in the flat buffer.</summary>
        public int Tensor(string name, TensorRole role, int fanIn, TensorInit init, params int[] shape)
        {
            double length = shape.Aggregate(1.0, (a, b) => a * b);
            int offset = (int)System.Math.Min(Total, int.MaxValue);
            if (Total + length <= int.MaxValue)
                _tensors.Add(new TensorPlan(name, new EquatableArray<int>(shape), role, offset, (int)length, fanIn, init));
            Total += length;
            return offset;
        }

        /// <summary>
        /// Declares a float state tensor (not trained) and the int constant <paramref name="constant"/> naming its offset.
        /// State goes after every parameter, so the optimiser's one pass over [0, ParameterCount) never reaches it; its
        /// offset is relative until <see cref="Tensors"/> and <see cref="Constants"/> add the parameter total.
        /// </summary>
        public void State(string name, TensorInit init, string constant, string comment, params int[] shape)
        {
            double length = shape.Aggregate(1.0, (a, b) => a * b);
            int relative = (int)System.Math.Min(StateTotal, int.MaxValue);
            _tensors.Add(new TensorPlan(name, new EquatableArray<int>(shape), TensorRole.State, relative, (int)System.Math.Min(length, int.MaxValue), 0, init));
            StateTotal += length;
            _stateOffsets.Add((_constants.Count, constant, relative, comment));
            _constants.Add(null!); // filled in with the final offset
        }

        /// <summary>Declares an int64 scalar state tensor (PyTorch's num_batches_tracked), kept on the host, starting at 0.</summary>
        public void Counter(string name) =>
            _tensors.Add(new TensorPlan(name, new EquatableArray<int>(new int[0]), TensorRole.State, _integers++, 1, 0, TensorInit.Zeros, Int64: true));

        public void Buffer(string name, int width, string widthName, RowSpace rows, BufferKind kind, string comment) =>
            _buffers.Add(new BufferPlan(name, width, widthName, rows, kind, comment));

        /// <summary>Declares a buffer of ints (code indices, code counts) in the workspace.</summary>
        public void IntBuffer(string name, int width, string widthName, RowSpace rows, string comment) =>
            _buffers.Add(new BufferPlan(name, width, widthName, rows, BufferKind.Workspace, comment, Integer: true));

        public void Constant(ConstantPlan constant)
        {
            if (_constants.All(c => c?.Name != constant.Name)) _constants.Add(constant);
        }

        public string IntConstant(string name, int value, string expression, string comment)
        {
            Constant(ConstantPlan.Int(name, Ops.Op.Macro(name), value, expression, comment));
            return name;
        }

        private int ParameterFloats => (int)System.Math.Min(Total, int.MaxValue);

        public EquatableArray<TensorPlan> Tensors => new EquatableArray<TensorPlan>(_tensors
            .Select(t => t.Role == TensorRole.State && !t.Int64 ? t with { Offset = ParameterFloats + t.Offset } : t).ToArray());

        public EquatableArray<BufferPlan> Buffers => new EquatableArray<BufferPlan>(_buffers.ToArray());

        public EquatableArray<ConstantPlan> Constants
        {
            get
            {
                var constants = _constants.ToArray();
                foreach (var (index, name, relative, comment) in _stateOffsets)
                {
                    int offset = ParameterFloats + relative;
                    constants[index] = ConstantPlan.Int(name, Ops.Op.Macro(name), offset, offset.ToString(System.Globalization.CultureInfo.InvariantCulture), comment);
                }
                return new EquatableArray<ConstantPlan>(constants);
            }
        }
        public int Width(string buffer) => _buffers.First(b => b.Name == buffer).Width;
    }
}
