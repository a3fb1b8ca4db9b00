import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Attr = onnxProto.onnx.IAttributeProto;
type Node = onnxProto.onnx.INodeProto;

export const ONNX_OPSET = 17;
/** ai.onnx.ml 3: LabelEncoder-2 (string → float) and TreeEnsembleRegressor-3. */
export const ONNX_ML_OPSET = 3;
export const DataType = onnx.TensorProto.DataType;

/** A tiny builder for ONNX graphs: nodes, initializers, typed inputs and outputs. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  /** A fresh intermediate name. */
  name(prefix: string): string {
    this.counter++;
    return `${prefix}_${this.counter}`;
  }

  input(name: string, elemType: number, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: (number | string)[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  node(
    opType: string,
    inputs: string[],
    attributes: Attr[] = [],
    options: { domain?: string; output?: string } = {},
  ): string {
    const output = options.output ?? this.name(opType.toLowerCase());
    this.nodes.push({
      opType,
      input: inputs,
      output: [output],
      name: this.name(`${opType}_node`),
      attribute: attributes,
      domain: options.domain ?? '',
    });
    return output;
  }

  floatTensor(values: ArrayLike<number>, dims: number[]): string {
    const name = this.name('const');
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, floatData: Array.from(values) });
    return name;
  }

  doubleTensor(values: ArrayLike<number>, dims: number[]): string {
    const name = this.name('const');
    this.initializers.push({ name, dataType: DataType.DOUBLE, dims, doubleData: Array.from(values) });
    return name;
  }

  int64Tensor(values: number[], dims: number[]): string {
    const name = this.name('const');
    this.initializers.push({ name, dataType: DataType.INT64, dims, int64Data: values });
    return name;
  }

  encode(docString: string, producerVersion: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'mlcycle',
      producerVersion,
      docString,
      opsetImport: [
        { domain: '', version: ONNX_OPSET },
        { domain: 'ai.onnx.ml', version: ONNX_ML_OPSET },
      ],
      graph: {
        name: 'mlcycle',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(
  name: string,
  elemType: number,
  dims: (number | string)[],
): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

const encoder = new TextEncoder();
const A = onnx.AttributeProto.AttributeType;

export const attr = {
  int: (name: string, i: number): Attr => ({ name, type: A.INT, i }),
  float: (name: string, f: number): Attr => ({ name, type: A.FLOAT, f }),
  string: (name: string, s: string): Attr => ({ name, type: A.STRING, s: encoder.encode(s) }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: A.INTS, ints }),
  floats: (name: string, floats: number[]): Attr => ({ name, type: A.FLOATS, floats }),
  strings: (name: string, strings: string[]): Attr => ({
    name,
    type: A.STRINGS,
    strings: strings.map((s) => encoder.encode(s)),
  }),
};
